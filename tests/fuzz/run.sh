#!/bin/sh
# tests/fuzz/run.sh [SECONDS]
# Builds the libFuzzer targets with clang (ASan + UBSan), replays each seed
# corpus and every named regression input, then fuzzes each target for
# SECONDS (default 60; 0 = replay only). A crash is kept as
# tests/fuzz/regressions/TARGET/crash-* and fails the run.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=${FUZZ_BUILD:-$top/tests/fuzz/build}
mkdir -p "$out"
CC=${CLANG:-clang}
FLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
INC="-I$top/include -I$top/src -I$top/tests -DTOP_BUILDDIR=\"$top\" -DTOP_SRCDIR=\"$top\" -DPACKAGE_VERSION=\"fuzz\""
CORE=$(ls "$top"/src/*.c | grep -v '/main\.c$')
LIBS="$(pkg-config --libs libwebsockets jansson) -lev -ldl"
for t in frame config names proxy; do
	extra=""
	case $t in
	frame) extra="$CORE $top/tests/testcore.c" ;;
	config) extra="$top/src/config.c $top/src/log.c $top/src/proxy.c" ;;
	proxy) extra="$top/src/proxy.c" ;;
	names) extra="$top/src/names.c" ;;
	esac
	# shellcheck disable=SC2086
	$CC $FLAGS $INC "$top/tests/fuzz/fuzz_$t.c" $extra $LIBS -o "$out/fuzz_$t"
done
fail=0
for t in frame config names proxy; do
	seeds="$top/tests/fuzz/corpus/$t"
	regs="$top/tests/fuzz/regressions/$t"
	work="$out/corpus-$t"
	mkdir -p "$seeds" "$regs" "$work"
	echo "== fuzz_$t: replaying $(ls "$seeds" | wc -l) seeds and $(ls "$regs" | wc -l) regression inputs"
	if [ -n "$(ls "$regs")" ]; then
		"$out/fuzz_$t" -runs=0 "$regs"/* >"$out/$t-regress.log" 2>&1 || { tail -30 "$out/$t-regress.log"; fail=1; }
	fi
	"$out/fuzz_$t" -runs=0 "$seeds" >"$out/$t-replay.log" 2>&1 || { tail -30 "$out/$t-replay.log"; fail=1; }
	[ "$secs" -gt 0 ] || continue
	echo "== fuzz_$t: fuzzing for $secs s"
	if ! "$out/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$regs/" -print_final_stats=1 "$work" "$seeds" >"$out/$t-fuzz.log" 2>&1; then
		tail -40 "$out/$t-fuzz.log"
		echo "fuzz_$t: CRASH, input kept in $regs"
		fail=1
	else
		grep -E "stat::number_of_executed_units|cov:" "$out/$t-fuzz.log" | tail -2
	fi
done
[ $fail = 0 ] && echo "fuzz: all targets clean" || echo "fuzz: FAILED"
exit $fail
