#!/bin/sh
# Installs what is missing, builds chatd and runs the whole test suite: Check
# unit suites, integration tests against a running chatd, and browser tests in
# headless Chromium. Logs: tests/**/*.log, summary: tests/test-suite.log.
set -eu
cd "$(dirname "$0")"
scripts/install-deps test
[ -x configure ] || autoreconf -fi
# (again when an earlier ./configure, e.g. ./run.sh's, ran before Check was installed)
if [ ! -f Makefile ] || ! grep -q '^CHECK_LIBS = -' Makefile; then ./configure; fi
make -j"$(nproc)"
make -j"$(nproc)" check
