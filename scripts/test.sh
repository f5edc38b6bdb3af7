#!/usr/bin/env bash
# Runs the whole hookrelay test suite on a fresh machine: installs what the
# tests need when it is missing, then gofmt, go vet and go test -race (with a
# throwaway PostgreSQL server for the Postgres store, see scripts/pg.sh),
# then the deployment tests: scripts/container-test.sh, helm-test.sh and
# systemd-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "test.sh: need root to install $*" >&2
		return 1
	fi
	if [ -z "${APT_UPDATED:-}" ]; then
		apt-get update -qq >/dev/null
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Oracles for the serializer differential tests.
need node || apt_install nodejs
need python3 || apt_install python3
# Headless browser for the dashboard tests.
[ -x /usr/bin/chromium ] || apt_install --no-install-recommends chromium fonts-dejavu-core

unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...

# The PostgreSQL store's tests need a server: start a throwaway one for this
# run (scripts/pg.sh installs PostgreSQL from Debian's packages when it is
# missing) and stop it on exit, unless the caller points at one already.
if [ -z "${HOOKRELAY_TEST_POSTGRES_URL:-}" ]; then
	HOOKRELAY_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/hookrelay-pg.XXXXXX")
	export HOOKRELAY_PG_DIR
	trap 'bash scripts/pg.sh stop' EXIT
	HOOKRELAY_TEST_POSTGRES_URL=$(APT_UPDATED=${APT_UPDATED:-} bash scripts/pg.sh start)
	export HOOKRELAY_TEST_POSTGRES_URL
fi
go test -race -count=1 -timeout 30m "$@" ./...

# Deployment: the container image run for real (podman), the Helm chart
# (helm built from the Go module proxy) and the systemd unit. Each installs
# what it needs and prints its time.
for t in container-test helm-test systemd-test; do
	start=$SECONDS
	APT_UPDATED=${APT_UPDATED:-} bash "scripts/$t.sh"
	echo "$t.sh: $((SECONDS - start))s"
done
