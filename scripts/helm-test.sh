#!/usr/bin/env bash
# Tests the Helm chart in deploy/helm/hookrelay: builds helm from the Go
# module in deploy/helm/tools (helm.sh/helm/v4, from the Go module proxy;
# the binary is cached per go.sum under $HOOKRELAY_CACHE, default
# ~/.cache/hookrelay), runs helm lint and helm template with several value
# sets, then the Go tests beside the pin (deploy/helm/tools/chart_test.go),
# which decode the rendered manifests into the Kubernetes API types and
# check probes, non-root, read-only roots, selectors, and that the values
# that cannot work (replicas > 1 without PostgreSQL or shared keys) fail.
#
#   scripts/helm-test.sh              # everything
#   HELM=/path/to/helm scripts/helm-test.sh   # use that helm instead
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "helm-test.sh: $*" >&2; }
tools=deploy/helm/tools
chart=deploy/helm/hookrelay

if [ -z "${HELM:-}" ]; then
	cache=${HOOKRELAY_CACHE:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/hookrelay}
	HELM=$cache/helm-$(sha256sum "$tools/go.sum" "$tools/go.mod" | sha256sum | cut -c1-16)
	if [ ! -x "$HELM" ]; then
		log "building helm from $tools/go.mod (cached as $HELM)"
		mkdir -p "$cache"
		(cd "$tools" && go build -o "$HELM.tmp" helm.sh/helm/v4/cmd/helm)
		mv "$HELM.tmp" "$HELM"
	fi
fi
case "$HELM" in /*) ;; *) HELM=$(command -v "$HELM" || realpath "$HELM") ;; esac
export HELM
log "$("$HELM" version --short)"

# Value sets that must lint and render cleanly. Each is a list of --set
# arguments; the Go tests check what they render.
sets=(
	""
	"keys.existingSecret=hookrelay-keys"
	"replicaCount=3,keys.existingSecret=hookrelay-keys,database.existingSecret=hookrelay-db"
	"replicaCount=2,keys.existingSecret=k,database.url=postgres://u:p@db/hookrelay,metrics.serviceMonitor.enabled=true"
	"metrics.enabled=false,persistence.enabled=false,podDisruptionBudget.enabled=false"
)
for s in "${sets[@]}"; do
	args=()
	[ -z "$s" ] || args=(--set "$s")
	"$HELM" lint --strict "$chart" "${args[@]}" >/dev/null ||
		{ "$HELM" lint --strict "$chart" "${args[@]}" >&2; exit 1; }
	"$HELM" template rel "$chart" "${args[@]}" >/dev/null
done
log "lint and template clean with ${#sets[@]} value sets"

# Several replicas on SQLite must not render.
if out=$("$HELM" template rel "$chart" --set replicaCount=2 2>&1); then
	log "replicaCount=2 without a database URL rendered:"
	echo "$out" >&2
	exit 1
fi
grep -q "needs PostgreSQL" <<<"$out" || { log "unexpected failure: $out"; exit 1; }

(cd "$tools" && go vet ./... && go test -count=1 ./...)

# The chart's pod run for real: helm template's Deployment, given to podman
# kube play with the image scripts/container-test.sh built (in its podman
# storage), must come up healthy as the chart asks it to run: uid 65532, a
# read-only root, no capabilities, /data and /tmp as emptyDirs. podman 4
# turns httpGet probes into a curl command the image does not have, so the
# check is hookrelay healthcheck run in the container.
pconf=${HOOKRELAY_PODMAN_DIR:-/var/tmp/hookrelay-podman}
if ! command -v podman >/dev/null 2>&1 || [ ! -f "$pconf/storage.conf" ]; then
	log "no podman storage of scripts/container-test.sh in $pconf: the pod is not run (run container-test.sh first)"
	exit 0
fi
export CONTAINERS_CONF=$pconf/containers.conf CONTAINERS_STORAGE_CONF=$pconf/storage.conf
if ! podman image exists localhost/hookrelay:latest; then
	log "no localhost/hookrelay:latest image: the pod is not run (run container-test.sh first)"
	exit 0
fi
if ! command -v catatonit >/dev/null 2>&1; then
	# podman kube play's infra container needs it.
	[ "$(id -u)" -eq 0 ] || { log "catatonit is missing and installing it needs root"; exit 1; }
	if [ -z "${APT_UPDATED:-}" ]; then
		apt-get update -qq >/dev/null
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends catatonit >/dev/null
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/hookrelay-helm.XXXXXX")
rel=hrkube-$$
kube_down() {
	podman kube down "$work/kube.yaml" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap kube_down EXIT
"$HELM" template "$rel" "$chart" --set image.repository=localhost/hookrelay,image.tag=latest,image.pullPolicy=Never \
	--set persistence.enabled=false >"$work/kube.yaml"
# From $work: podman 4 takes a directory (or file) named after the image in
# the working directory, such as a built ./hookrelay, for a build context.
(cd "$work" && podman --runtime runc kube play kube.yaml) >/dev/null 2>"$work/play.err" ||
	{ log "podman kube play: $(cat "$work/play.err")"; exit 1; }
c=$rel-hookrelay-pod-0-hookrelay
podman container exists "$c" || { log "kube play made no container $c: $(podman ps -a --format '{{.Names}}')"; exit 1; }
for ((i = 0; ; i++)); do
	if health=$(podman exec "$c" /hookrelay healthcheck 2>/dev/null); then
		break
	fi
	if [ "$(podman inspect --format '{{.State.Running}}' "$c")" != true ] || [ "$i" -ge 150 ]; then
		log "the chart's pod did not become healthy:"
		podman logs "$c" 2>&1 | tail -n 20 >&2
		exit 1
	fi
	sleep 0.2
done
pid=$(podman inspect --format '{{.State.Pid}}' "$c")
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
ro=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}} {{len .EffectiveCaps}}' "$c")
if [ "$uids" != "65532 65532 65532 65532" ] || [ "$ro" != "true 0" ]; then
	log "the chart's pod runs with uids $uids, read-only root and capability count $ro"
	exit 1
fi
log "ok: the chart's pod is healthy under podman kube play, uid 65532, read-only root, no capabilities: $health"
