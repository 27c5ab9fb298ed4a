#!/usr/bin/env bash
# Makes the browser tests runnable: Debian's Chromium at /usr/bin/chromium and
# the npm packages pinned in package-lock.json. Idempotent: a second run does
# nothing. playwright-core never downloads a browser, so nothing here reaches
# anything but Debian's packages and the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "setup.sh: installing Debian's chromium" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends chromium
    else
        echo "setup.sh: /usr/bin/chromium is missing and this is not root." >&2
        echo "  Install it as root first: apt-get update && apt-get install -y --no-install-recommends chromium" >&2
        exit 1
    fi
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "setup.sh: /usr/bin/chromium is still missing after installing chromium" >&2
    exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "setup.sh: npm is missing (Node 20 or later with npm is needed)" >&2
    exit 1
fi

cd "$here"
# node_modules/.package-lock.json is written by npm at the end of every
# install, so its age tells whether the install is as new as the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup.sh: npm ci in $here" >&2
    npm ci --no-audit --no-fund
fi
