#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests
# (internal/ui/browser_test.go) when /usr/bin/chromium is missing.
# Needs root; runs apt-get update once, only when it installs.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "chromium.sh: /usr/bin/chromium is missing and installing it needs root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null
