#!/usr/bin/env bash
# Re-vendor axe-core for the browser tests (tests/browser/vendor/): the version pinned in
# tests/browser/vendor/package.json and package-lock.json, from the npm registry. Only
# axe.min.js and its licences are kept (tests/browser/vendor/axe-core/); node_modules is not.
# Nothing of it ships: the tests inject it into the console's pages.
set -euo pipefail
cd "$(dirname "$0")/../tests/browser/vendor"
npm ci --ignore-scripts --no-audit --no-fund
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE node_modules/axe-core/LICENSE-3RD-PARTY.txt axe-core/
rm -rf node_modules
echo "vendored axe-core $(node -p 'require("./package-lock.json").packages["node_modules/axe-core"].version')"
