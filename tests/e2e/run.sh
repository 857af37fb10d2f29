#!/bin/sh
# Browser end-to-end tests of the web client: installs playwright-core on first use
# (npm; the browser is Debian's chromium at /usr/bin/chromium, set CHROMIUM to change),
# then runs every *.test.mjs here with node's test runner. CHATD overrides the server binary.
set -eu
cd "$(dirname "$0")"
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error
exec node --test --test-concurrency=1 .
