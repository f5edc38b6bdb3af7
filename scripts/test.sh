#!/usr/bin/env bash
# Runs the whole hookrelay test suite on a fresh machine: installs what the
# tests need when it is missing, then gofmt, go vet and go test -race.
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

unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 -timeout 30m "$@" ./...
