#!/bin/sh
# tests/sanitize.sh [make check arguments]
# Builds a copy of the committed tree with AddressSanitizer + UBSan
# (./configure --enable-sanitizers) in tests/build-asan and runs the test
# suite there. Any ASan/UBSan report or leak fails the test that saw it
# (a chatd with a report exits non-zero; Check children abort).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/tests/build-asan
rm -rf "$dir"
mkdir -p "$dir"
(cd "$top" && git archive HEAD) | tar -x -C "$dir"
# Tests that need files from outside the repository (SEED_CHAT_HTML) get them from the
# environment, as in the main build: .ci/run sets them.
cd "$dir"
autoreconf -fi >/dev/null 2>&1
./configure -q --enable-sanitizers >/dev/null
make -j"$(nproc)" >/dev/null
CHATD_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:quarantine_size_mb=16:abort_on_error=0 \
LSAN_OPTIONS=suppressions=$dir/tests/lsan.supp \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j"$(nproc)" check "$@"
