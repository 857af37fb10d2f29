#!/bin/sh
# Installs what is missing, builds chatd and runs the whole test suite: Check
# unit suites, integration tests against a running chatd, and browser tests in
# headless Chromium. Logs: tests/**/*.log, summary: tests/test-suite.log.
set -eu
cd "$(dirname "$0")"
scripts/install-deps test
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure
make -j"$(nproc)"
make -j"$(nproc)" check
