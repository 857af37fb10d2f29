#!/bin/sh
# tests/e2e/run.sh FILE.test.mjs
# Runs one browser test file (node:test + playwright-core from npm + Debian's chromium at
# /usr/bin/chromium, CHROMIUM to change) and writes TAP on stdout, one line per test
# (tap-reporter.mjs): `make check` runs each registered *.test.mjs through this with
# automake's tap-driver.sh, so every test is counted and a skipped one shows as SKIP.
# The files' own output goes to stderr (the test's log).
# playwright-core is installed with `npm ci` on first use into the build tree's tests/e2e
# (E2E_MODULES to change; the source tree may be read-only). Browser tests run one file at
# a time (a lock in that directory), whatever make -j says. Needs Node >= 18 (Debian 12's).
# Alone: tests/e2e/run.sh tests/e2e/chat.test.mjs
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# = 1 ] || { echo "usage: $0 FILE.test.mjs" >&2; exit 2; }
file=$1
bail() { echo "Bail out! $*"; exit 1; }

command -v node >/dev/null 2>&1 || bail "no node command: install Debian's nodejs and npm (scripts/install-deps test)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || bail "node $(node --version) is too old: the browser tests need Node >= 18"
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || bail "no browser at $chromium: install Debian's chromium (scripts/install-deps test) or set CHROMIUM"

modules=${E2E_MODULES:-${TOP_BUILDDIR:-$here/../..}/tests/e2e}
mkdir -p "$modules"
modules=$(cd "$modules" && pwd)
lock=$modules/.e2e.lock
exec 9>"$lock"
flock 9
want=$(node -p "require('$here/package.json').dependencies['playwright-core']")
have=$(node -p "try { require('$modules/node_modules/playwright-core/package.json').version } catch { '' }")
if [ "$have" != "$want" ]; then
	if [ "$modules" != "$here" ]; then
		cp "$here/package.json" "$here/package-lock.json" "$modules/"
	fi
	echo "# installing playwright-core $want into $modules (npm ci)"
	(cd "$modules" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
		bail "npm ci failed in $modules: playwright-core $want is needed from the npm registry"
fi
exec 9>&-
export E2E_MODULES="$modules" CHROMIUM="$chromium"
# TAP goes to fd 3 (our stdout), everything the tests print to stderr. flock -o: the lock
# is held by flock alone, so no browser or chatd left behind can keep it.
flock -o "$lock" node --test-reporter="$here/tap-reporter.mjs" --test-reporter-destination=/dev/fd/3 "$file" 3>&1 1>&2
