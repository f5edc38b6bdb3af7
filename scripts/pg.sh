#!/usr/bin/env bash
# Runs a throwaway PostgreSQL server for the tests of the Postgres store.
#
#   scripts/pg.sh start   start it (installing Debian's postgresql package
#                         when no server binaries are found) and print its URL
#   scripts/pg.sh url     print the URL of the running server
#   scripts/pg.sh stop    stop it and delete everything it wrote
#
# The cluster lives in $HOOKRELAY_PG_DIR (default: a directory under $TMPDIR
# named after the user), listens only on 127.0.0.1 on a free port and on a
# socket inside that directory, trusts every local connection and runs with
# fsync off: it is for tests, and its data is worth nothing. It has one
# database, hookrelay_test, owned by the superuser postgres. Every command is
# idempotent: start on a running server prints its URL, stop on a stopped
# one does nothing. Only the URL goes to stdout; progress goes to stderr.
set -euo pipefail

dir=${HOOKRELAY_PG_DIR:-${TMPDIR:-/tmp}/hookrelay-pg-$(id -u)}
db=hookrelay_test

log() { echo "pg.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

# bindir prints the newest installed server's bin directory, if any.
bindir() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$d" ] && [ -x "$d/initdb" ]; then
		echo "$d"
	fi
}

# install installs Debian's postgresql package. The package would create
# and start a "main" cluster on port 5432, which the tests do not use, so
# createcluster.conf turns that off first (ucf keeps a file that already
# exists when told to).
install() {
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		mkdir -p /etc/postgresql-common
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	fi
	log "installing postgresql from Debian's packages"
	# test.sh passes APT_UPDATED when it has already updated the lists.
	if [ -z "${APT_UPDATED:-}" ]; then
		apt-get update -qq >/dev/null
	fi
	DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 apt-get install -y -qq \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		postgresql >/dev/null
}

# as_pg runs a command as the owner of the cluster: postgres when we are
# root, since the server refuses to run as root, else ourselves.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			(cd "$dir" && runuser -u postgres -- "$@")
		else
			(cd "$dir" && su postgres -s /bin/sh -c '"$0" "$@"' -- "$@")
		fi
	else
		(cd "$dir" && "$@")
	fi
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/$db?sslmode=disable"; }

running() {
	local bin
	bin=$(bindir)
	[ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ] && [ -f "$dir/port" ] &&
		as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

# port_free reports whether nothing listens on 127.0.0.1:$1.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	if running; then
		url
		return
	fi
	local bin
	bin=$(bindir)
	if [ -z "$bin" ]; then
		install
		bin=$(bindir)
		[ -n "$bin" ] || die "postgresql installed, but no initdb under /usr/lib/postgresql/*/bin"
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /bin/sh postgres
	fi
	# Start from scratch: a directory left by a killed run is stale.
	if [ -d "$dir/data" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
		rm -rf "$dir/data" "$dir/sock" "$dir/port" "$dir/log"
	fi
	mkdir -p "$dir/sock"
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$dir"
	fi
	log "initdb in $dir ($bin)"
	as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		die "initdb failed: $(cat "$dir/initdb.log")"

	local port tries=0
	while :; do
		tries=$((tries + 1))
		[ "$tries" -le 20 ] || die "could not start the server; last log: $(tail -n 20 "$dir/log" 2>/dev/null)"
		port=$((20000 + RANDOM % 20000))
		port_free "$port" || continue
		if as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o "-c listen_addresses=127.0.0.1 -p $port \
			-c unix_socket_directories=$dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
			-c max_connections=500 -c max_parallel_workers_per_gather=0 -c shared_buffers=128MB" start >/dev/null 2>&1; then
			break
		fi
		log "start on port $port failed, trying another"
	done
	echo "$port" >"$dir/port"
	as_pg "$bin/createdb" -h "$dir/sock" -p "$port" -U postgres "$db" ||
		die "createdb $db failed"
	log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') listening on 127.0.0.1:$port"
	url
}

stop() {
	[ -d "$dir" ] || return 0
	local bin
	bin=$(bindir)
	if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url)
	running || die "no server is running in $dir"
	url
	;;
*)
	echo "usage: $0 start|stop|url" >&2
	exit 2
	;;
esac
