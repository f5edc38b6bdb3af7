#!/usr/bin/env bash
# Builds the hookrelay container image from the Containerfile: stages its
# context in bin/image (the static release binary from scripts/build.sh,
# the host's CA bundle, deploy/container's passwd and group, empty /data
# and /tmp) and runs podman build on it, in the docker format so that the
# HEALTHCHECK is kept. Needs no registry: the image is FROM scratch.
#
#   scripts/image.sh                      # tags hookrelay:VERSION and hookrelay:latest
#   IMAGE=registry.example/hookrelay scripts/image.sh
#   PODMAN="podman --runtime runc" scripts/image.sh
#   PODMAN=docker scripts/image.sh        # (untested here: no Docker engine)
#
# Prints the image reference it built on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

image=${IMAGE:-hookrelay}
podman=${PODMAN:-podman}
ctx=bin/image
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$ca" ] || { echo "image.sh: no CA bundle at $ca (apt-get install ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }

rm -rf "$ctx"
mkdir -p "$ctx/data" "$ctx/tmp"
# build.sh prints "PATH VERSION"; the version tags the image.
version=$(OUT="$ctx/hookrelay" bash scripts/build.sh | awk '{print $2}')
case "$version" in "" | "(unstamped)") version=dev ;; esac
cp "$ca" "$ctx/ca-certificates.crt"
cp deploy/container/passwd deploy/container/group "$ctx/"
chmod 0755 "$ctx/data"
chmod 1777 "$ctx/tmp"

# The tag is VERSION with what a tag may not hold replaced.
tag=$(printf '%s' "$version" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-128)
# docker build keeps the HEALTHCHECK anyway and has no --format.
format=(--format docker)
case "${podman%% *}" in *docker) format=() ;; esac
$podman build --quiet "${format[@]}" --build-arg "VERSION=$version" \
	-t "$image:$tag" -t "$image:latest" -f Containerfile "$ctx" >&2
echo "$image:$tag"
