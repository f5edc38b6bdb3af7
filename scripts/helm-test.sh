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
	cache=${HOOKRELAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hookrelay}
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
