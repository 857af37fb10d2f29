#!/bin/sh
# bench/run.sh [--quick] [bench.py options]  (then bench/cluster.py [--quick])
# One command: builds the load generator (and chatd and its plugins), starts chatd, the tutorial's
# server, the Socket.IO peer (bench/peers/socketio, npm ci on first use) and the lws mirror
# demo in turn pinned to core 0, runs every workload
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
	# every plugin: W1h loads history, W5s the stock config (etc/chatd.conf) with all of them
	sos=""
	for d in plugins/*/; do
		n=$(basename "$d")
		[ -f "$d/local.mk" ] && sos="$sos plugins/$n/$n.so"
	done
	# shellcheck disable=SC2086
	make $sos >&2 || echo "bench: warning: not every plugin built (W1h or W5s may be skipped)" >&2
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
rc=0
"$PY" bench/bench.py "$@" || rc=$?
# the cluster plugin's workloads (bench/cluster.py: chatd alone and two nodes on
# Redis, interleaved); it skips (77) without the plugin or redis-server
quick=""
for a in "$@"; do [ "$a" = --quick ] && quick=--quick; done
crc=0
"$PY" bench/cluster.py $quick || crc=$?
[ "$crc" = 0 ] || [ "$crc" = 77 ] || rc=$crc
exit "$rc"
