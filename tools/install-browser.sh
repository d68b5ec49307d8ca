#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser tests, if it is not there yet.
# As root it calls apt-get directly (containers often have no sudo); otherwise through sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
