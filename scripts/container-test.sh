#!/usr/bin/env bash
# Builds the hookrelay image (scripts/image.sh) and runs it for real: starts
# the container, waits for its HEALTHCHECK (hookrelay healthcheck inside),
# creates an endpoint through the API, sends an event, and checks that a
# receiver on the host gets it signed (hookrelay verify). Cleans up after
# itself, also when it fails; a second run reuses podman's layer cache and
# Go's build cache.
#
# Needs podman and runc: installed from Debian's packages when missing (as
# root). No registry is reached: the image is FROM scratch. crun fails on
# these machines' hybrid cgroup layout, so podman runs with --runtime runc
# and a CONTAINERS_CONF without default ulimits; storage is overlay, or vfs
# where overlay cannot mount.
#
# The container shares the host's network (--network host), so that the
# API and the receiver are both on 127.0.0.1 and nothing else is reached;
# it listens on a free port instead of the image's 0.0.0.0:8080, which
# another program may hold (a restart on the same volume uses 0.0.0.0:8080
# in a network of its own with loopback only). It runs as the image's user with a read-only
# root file system, no capabilities and no-new-privileges, as in the Helm
# chart.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "container-test.sh: $*" >&2; }
die() {
	log "$*"
	exit 1
}

if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || die "podman and runc are missing and installing them needs root (apt-get install podman runc)"
	log "installing podman and runc from Debian's packages"
	if [ -z "${APT_UPDATED:-}" ]; then
		apt-get update -qq >/dev/null
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends podman runc uidmap >/dev/null
fi
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the receiver"

# podman's configuration for this test, kept between runs (the layer cache).
conf=${HOOKRELAY_PODMAN_DIR:-/var/tmp/hookrelay-podman}
mkdir -p "$conf"
cat >"$conf/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$conf/containers.conf"
storage() {
	cat >"$conf/storage.conf" <<CONF
[storage]
driver = "$1"
runroot = "$conf/run-$1"
graphroot = "$conf/storage-$1"
CONF
}
export CONTAINERS_STORAGE_CONF="$conf/storage.conf"
# HOOKRELAY_PODMAN_STORAGE=vfs skips overlay (to test the fallback).
storage "${HOOKRELAY_PODMAN_STORAGE:-overlay}"
if ! podman info >/dev/null 2>"$conf/info.err"; then
	log "overlay storage does not work here ($(tail -n 1 "$conf/info.err")); using vfs"
	storage vfs
	podman info >/dev/null || die "podman info fails with vfs storage too"
fi
podman=(podman --runtime runc)

work=$(mktemp -d "${TMPDIR:-/tmp}/hookrelay-container.XXXXXX")
name=hookrelay-test-$$
volume=hookrelay-test-data-$$
receiver_pid=
containers=()
pg_db=
# Containers left by a run that was killed (its shell is gone) go first.
for c in $(podman ps -a --filter label=hookrelay-test-pid --format '{{.Names}}'); do
	owner=$(podman inspect --format '{{index .Config.Labels "hookrelay-test-pid"}}' "$c" 2>/dev/null || true)
	if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
		podman rm -f -v -t 0 "$c" >/dev/null 2>&1 || true
	fi
done
podman volume prune -f --filter label=hookrelay-test-pid >/dev/null 2>&1 || true
cleanup() {
	local rc=$?
	if [ "$rc" -ne 0 ]; then
		for c in "${containers[@]}"; do
			log "log of $c:"
			podman logs "$c" 2>&1 | tail -n 30 >&2 || true
		done
	fi
	for c in "${containers[@]}"; do
		podman rm -f -v -t 5 "$c" >/dev/null 2>&1 || true
	done
	[ -z "$pg_db" ] || psql "$HOOKRELAY_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
	podman volume rm -f "$volume" >/dev/null 2>&1 || true
	[ -z "$receiver_pid" ] || kill "$receiver_pid" 2>/dev/null || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT

start=$SECONDS
image=$(PODMAN="${podman[*]}" IMAGE=localhost/hookrelay bash scripts/image.sh)
log "built $image in $((SECONDS - start))s"
# Only this build is kept: older tags and dangling layers of earlier runs go.
podman images --format '{{.Repository}}:{{.Tag}}' localhost/hookrelay |
	grep -vxF -e "$image" -e localhost/hookrelay:latest | xargs -r podman rmi -f >/dev/null 2>&1 || true
podman image prune -f >/dev/null 2>&1 || true
hr=bin/image/hookrelay # the binary in the image, also the client here

# What the image promises, from its configuration.
podman image inspect --format '{{.Config.User}} {{json .Config.Env}} {{json .Config.Volumes}} {{json .Config.Healthcheck.Test}}' "$image" >"$work/config"
grep -q '^65532:65532 ' "$work/config" || die "image user is not 65532:65532: $(cat "$work/config")"
grep -q '"HOOKRELAY_ADDR=0.0.0.0:8080"' "$work/config" || die "image does not listen on 0.0.0.0:8080: $(cat "$work/config")"
grep -q '"/data"' "$work/config" || die "image has no /data volume: $(cat "$work/config")"
grep -q '"/hookrelay","healthcheck"' "$work/config" || die "image has no healthcheck: $(cat "$work/config")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
admin_key=hr_test_$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

python3 scripts/testdata/receiver.py "$work/receiver.port" "$work" 300 2>"$work/receiver.log" &
receiver_pid=$!
for ((i = 0; i < 50; i++)); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
rport=$(cat "$work/receiver.port")

# run_node NAME PORT [podman run arguments...] starts serve in a container
# that listens on 127.0.0.1:PORT of the host's network, as the image's
# user, and waits until the image's own HEALTHCHECK (run in the container)
# passes. PORT "-" leaves the image's address, 0.0.0.0:8080, in a network
# of the container's own with nothing but loopback (--network none).
run_node() {
	local c=$1 port=$2 net
	shift 2
	containers+=("$c")
	if [ "$port" = - ]; then
		net=(--network none)
	else
		net=(--network host -e HOOKRELAY_ADDR="127.0.0.1:$port")
	fi
	"${podman[@]}" run -d --name "$c" --label hookrelay-test-pid=$$ "${net[@]}" \
		--read-only --cap-drop ALL --security-opt no-new-privileges \
		-e HOOKRELAY_ADMIN_KEY="$admin_key" \
		-e HOOKRELAY_ALLOW_PRIVATE_NETWORKS=true \
		-e HOOKRELAY_RETRY_SCHEDULE=1s,1s,1s \
		"$@" "$image" >/dev/null 2>"$work/run.err" || die "podman run $c: $(cat "$work/run.err")"
	# podman 4 logs that it cannot make a systemd timer for the
	# HEALTHCHECK where systemd is not running: it is run by hand here.
	local started=$SECONDS i
	for ((i = 0; ; i++)); do
		if podman healthcheck run "$c" >/dev/null 2>&1; then
			break
		fi
		[ "$(podman inspect --format '{{.State.Running}}' "$c")" = true ] || die "$c stopped"
		[ "$i" -lt 150 ] || die "$c: no healthy /healthz after 30s"
		sleep 0.2
	done
	local health
	if [ "$port" = - ]; then
		health=$(podman exec "$c" /hookrelay healthcheck)
	else
		health=$("$hr" healthcheck --url "http://127.0.0.1:$port/healthz")
	fi
	case "$health" in *'"status":"ok"'*) ;; *) die "$c: unexpected /healthz: $health" ;; esac
	# The process as the host sees it: real, effective, saved and file uid.
	local pid uids
	pid=$(podman inspect --format '{{.State.Pid}}' "$c")
	uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
	[ "$uids" = "65532 65532 65532 65532" ] || die "$c: serve runs with uids $uids, not 65532"
	log "$c healthy after $((SECONDS - started))s: $health"
}

# deliver CREATE_API SEND_API N creates an endpoint through the first API,
# sends an event through the second, and checks that it is the receiver's
# request number N, signed with the endpoint's secret.
deliver() {
	local create=$1 send=$2 n=$3 secret i
	secret=whsec_$(head -c 32 /dev/urandom | base64)
	HOOKRELAY_API=$create HOOKRELAY_KEY=$admin_key "$hr" endpoints create --url "http://127.0.0.1:$rport/hook" \
		--scheme standard --secret "$secret" --event-type 'container.*' >"$work/endpoint" 2>&1 ||
		die "endpoints create: $(cat "$work/endpoint")"
	printf '{"id":"evt_container_%d","check":"signed in a container","n":1.0}' "$n" |
		HOOKRELAY_API=$send HOOKRELAY_KEY=$admin_key "$hr" events send --type container.test >"$work/event" 2>&1 ||
		die "events send: $(cat "$work/event")"
	for ((i = 0; ; i++)); do
		[ -e "$work/$n.body" ] && break
		[ "$i" -lt 150 ] || die "no delivery $n at the receiver after 30s: $(cat "$work/receiver.log")"
		sleep 0.2
	done
	local args=() line
	while IFS= read -r line; do
		case "${line,,}" in webhook-*) args+=(--header "$line") ;; esac
	done <"$work/$n.headers"
	[ "${#args[@]}" -eq 6 ] || die "want webhook-id, -timestamp and -signature headers, got: $(cat "$work/$n.headers")"
	"$hr" verify --scheme standard --secret "$secret" "${args[@]}" <"$work/$n.body" >/dev/null ||
		die "delivery $n: the signature does not verify"
	grep -q "\"evt_container_$n\"" "$work/$n.body" || die "delivery $n is not the event: $(cat "$work/$n.body")"
	# A control: another secret, or a body changed by one byte, must not verify.
	if "$hr" verify --scheme standard --secret "whsec_$(head -c 32 /dev/urandom | base64)" "${args[@]}" <"$work/$n.body" 2>/dev/null ||
		sed 's/container/kontainer/' "$work/$n.body" | "$hr" verify --scheme standard --secret "$secret" "${args[@]}" 2>/dev/null; then
		die "verify accepted a wrong secret or a changed body"
	fi
	log "delivery $n arrived signed and verified"
}

# One node on SQLite in a volume, as the image runs by default.
podman volume create --label hookrelay-test-pid=$$ "$volume" >/dev/null
port=$(free_port)
run_node "$name" "$port" -v "$volume:/data"
deliver "http://127.0.0.1:$port" "http://127.0.0.1:$port" 1
# The database and the key files went to the volume, owned by the image's user.
mnt=$(podman volume inspect --format '{{.Mountpoint}}' "$volume")
for f in hookrelay.db secret.key session.key; do
	[ "$(stat -c %u "$mnt/$f" 2>/dev/null)" = 65532 ] || die "/data/$f is missing or not owned by 65532"
done
# SIGTERM (podman stop) shuts serve down cleanly, well within the timeout,
# and a new container on the same volume has the endpoint and its secret.
stop_start=$SECONDS
podman stop -t 20 "$name" >/dev/null 2>&1 || die "podman stop $name failed"
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || die "serve exited $code on SIGTERM, not 0"
log "stopped cleanly on SIGTERM in $((SECONDS - stop_start))s"
podman rm "$name" >/dev/null 2>&1
# This time on the image's own address, 0.0.0.0:8080, with no network but
# the container's loopback; the CLI in the image asks the API there.
run_node "$name-again" - -v "$volume:/data"
podman exec -e HOOKRELAY_KEY="$admin_key" "$name-again" /hookrelay endpoints list --json >"$work/endpoints" ||
	die "endpoints list after the restart failed"
grep -q "127.0.0.1:$rport/hook" "$work/endpoints" || die "the endpoint is gone after the restart: $(cat "$work/endpoints")"
id=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print((d["data"] if isinstance(d, dict) else d)[0]["id"])' "$work/endpoints")
podman exec -e HOOKRELAY_KEY="$admin_key" "$name-again" /hookrelay endpoints reveal-secret "$id" >"$work/reveal" 2>&1 ||
	die "reveal-secret after the restart: $(cat "$work/reveal")"
grep -q whsec_ "$work/reveal" || die "reveal-secret after the restart shows no secret: $(cat "$work/reveal")"
podman rm -f -v -t 5 "$name-again" >/dev/null 2>&1

# Two nodes sharing PostgreSQL, as compose and the Helm chart run it, when
# there is a server (scripts/test.sh starts one): the same keys, no volume,
# an endpoint made through one node and an event sent through the other.
if [ -n "${HOOKRELAY_TEST_POSTGRES_URL:-}" ]; then
	command -v psql >/dev/null 2>&1 || die "HOOKRELAY_TEST_POSTGRES_URL is set but psql is missing"
	pg_db=hookrelay_container_$$
	psql "$HOOKRELAY_TEST_POSTGRES_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
	pg_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
		"$HOOKRELAY_TEST_POSTGRES_URL" "$pg_db")
	keys=(-e HOOKRELAY_DATABASE_URL="$pg_url"
		-e HOOKRELAY_SECRET_KEY="$(head -c 32 /dev/urandom | base64)"
		-e HOOKRELAY_SESSION_KEY="$(head -c 32 /dev/urandom | base64)")
	p1=$(free_port)
	# Each node needs its own id: on the host network both would default
	# to this host's name and /data, and the second would refuse to start.
	run_node "$name-pg1" "$p1" "${keys[@]}" -e HOOKRELAY_NODE_ID=node-1
	p2=$(free_port)
	run_node "$name-pg2" "$p2" "${keys[@]}" -e HOOKRELAY_NODE_ID=node-2
	deliver "http://127.0.0.1:$p1" "http://127.0.0.1:$p2" 2
else
	log "HOOKRELAY_TEST_POSTGRES_URL is not set: no run on PostgreSQL (scripts/test.sh sets it)"
fi
log "ok: image $image ($((SECONDS - start))s in all)"
