#!/usr/bin/env bash
# Builds the release binary: static (CGO_ENABLED=0, so the net package uses
# its pure-Go resolver and nothing links libc), reproducible paths
# (-trimpath), and the version stamped from git describe.
#
#   scripts/build.sh                 # writes bin/hookrelay
#   OUT=/tmp/hr scripts/build.sh     # writes /tmp/hr
#   VERSION=v1.2.3 scripts/build.sh  # stamps v1.2.3 instead of git describe
#   GOARCH=arm64 scripts/build.sh    # cross-compiles, as go build does
set -euo pipefail
cd "$(dirname "$0")/.."

out=${OUT:-bin/hookrelay}
if [ -z "${VERSION:-}" ]; then
	# Outside a git checkout (a source tarball) leave the version empty:
	# the binary then reports its module build information instead.
	VERSION=$(git describe --tags --always --dirty 2>/dev/null || true)
fi
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o "$out" ./cmd/hookrelay
echo "$out ${VERSION:-(unstamped)}"
