#!/bin/sh
# bench/run.sh [--quick] [bench.py options]
# One command: builds the load generator (and chatd), starts chatd, the tutorial's
# server and the lws mirror demo in turn pinned to core 0, runs every workload
# against each with the generator on core 1, kills every server it started, writes
# bench/results/<date>-<HHMM>.json and prints the markdown table. See docs/performance.md.
set -eu
cd "$(dirname "$0")/.."
make -C bench loadgen >&2
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	if ! make chatd >&2; then
		[ -x chatd ] || { echo "bench: cannot build chatd" >&2; exit 1; }
		echo "bench: warning: 'make chatd' failed, benchmarking the existing ./chatd" >&2
	fi
	if [ -f plugins/history/history.c ]; then
		make plugins/history/history.so >&2 || echo "bench: warning: history plugin did not build" >&2
	fi
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
exec "$PY" bench/bench.py "$@"
