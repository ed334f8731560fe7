#!/usr/bin/env bash
# The browser the console's tests drive (tests/browser): Debian's Chromium, never a download
# of Playwright's own. Installed here where that is possible (root with apt-get); otherwise
# this fails and says what to install: the browser tests never skip.
set -euo pipefail
CHROMIUM="${BINVAULT_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi
if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "browser: installing Debian's chromium for the console's browser tests (apt-get install -y chromium)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    fi
    [[ -x "$CHROMIUM" ]] && exit 0
fi
cat >&2 <<MSG
browser: no Chromium at $CHROMIUM, and it cannot be installed from here.
The console's browser tests (tests/browser) need it. Install it, then run make test again:
  Debian/Ubuntu:  sudo apt-get install -y chromium
  elsewhere:      any Chromium or Chrome, then BINVAULT_CHROMIUM=/path/to/chrome make test
MSG
exit 1
