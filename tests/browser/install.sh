#!/bin/sh
# tests/browser/install.sh - installs the browser test's npm packages (package-lock.json:
# playwright-core only) into tests/browser/node_modules with `npm ci`; does nothing when
# the locked version is already there. No browser is downloaded (scripts are not run):
# the test drives Debian's /usr/bin/chromium (deploy/packages.txt).
set -eu
cd "$(dirname "$0")"
want=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')
have=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch (e) { console.log("") }')
[ "$want" = "$have" ] && exit 0
timeout 300 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
