#!/usr/bin/env bash
# Checks deploy/hookrelay.service: systemd-analyze verify (syntax, unknown
# settings, the binary it runs) and systemd-analyze security, whose
# exposure score must stay at or below MAX_EXPOSURE (default 2.0, "OK").
# Installs systemd from Debian's packages when systemd-analyze is missing
# (as root); skips, saying so, only when that cannot be done.
set -euo pipefail
cd "$(dirname "$0")/.."

max=${MAX_EXPOSURE:-2.0}
unit=${UNIT:-deploy/hookrelay.service}

if ! command -v systemd-analyze >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		if [ -z "${APT_UPDATED:-}" ]; then
			apt-get update -qq >/dev/null
		fi
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null || true
	fi
	if ! command -v systemd-analyze >/dev/null 2>&1; then
		echo "systemd-test.sh: SKIP: systemd-analyze is not installed and cannot be installed here"
		exit 0
	fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hookrelay-systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT

# verify checks that ExecStart's binary exists: point it at a real build.
OUT="$work/hookrelay" bash scripts/build.sh >/dev/null
sed "s|^ExecStart=/usr/local/bin/hookrelay |ExecStart=$work/hookrelay |" "$unit" >"$work/hookrelay.service"
grep -q "^ExecStart=$work/hookrelay serve" "$work/hookrelay.service" ||
	{ echo "systemd-test.sh: $unit has no ExecStart=/usr/local/bin/hookrelay serve" >&2; exit 1; }

# verify prints problems and, for some, still exits 0: any output fails.
if ! out=$(systemd-analyze verify "$work/hookrelay.service" 2>&1) || [ -n "$out" ]; then
	echo "systemd-test.sh: systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi

score=$(systemd-analyze security --offline=yes "$work/hookrelay.service" 2>&1 |
	sed -n 's/.*Overall exposure level for hookrelay.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "systemd-test.sh: no exposure score from systemd-analyze security" >&2; exit 1; }
if ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
	echo "systemd-test.sh: exposure $score is above $max:" >&2
	systemd-analyze security --offline=yes "$work/hookrelay.service" 2>&1 | grep '✗' >&2 || true
	exit 1
fi

# The settings the unit promises, in case a later edit drops one.
for want in DynamicUser=yes ProtectSystem=strict StateDirectory=hookrelay NoNewPrivileges=yes \
	ProtectHome=yes PrivateTmp=yes CapabilityBoundingSet= SystemCallFilter=@system-service; do
	grep -qx "$want" "$unit" || { echo "systemd-test.sh: $unit lacks $want" >&2; exit 1; }
done
echo "systemd-test.sh: ok: systemd-analyze verify clean, exposure $score (at most $max)"
