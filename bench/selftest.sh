#!/bin/sh
# bench/selftest.sh: the load generator against bench/wstest_server.py, a server
# that fragments every message, pings between the fragments and writes in
# 7-byte pieces. Passes when nothing is lost and every ping got its pong. Then, when
# bench/peers/socketio is installed, --proto socketio against that Socket.IO server.
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
port=$($PY -c 'import bench; print(bench.free_port())')
$PY wstest_server.py --port "$port" --seconds 10 > selftest-server.out &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
sleep 0.7
# every member publishes, in turn (--publishers)
./loadgen --port "$port" --rooms 2 --members 3 --publishers 3 --rate 20 --duration 2 --warmup 0.5 --size 300 \
	--label selftest --quiet > selftest-loadgen.out
# 64-bit frame lengths too
./loadgen --port "$port" --rooms 1 --members 2 --rate 5 --duration 1 --warmup 0.2 --size 70000 \
	--label selftest-big --quiet > selftest-loadgen-big.out
# random (Poisson) gaps between a room's messages
./loadgen --port "$port" --rooms 2 --members 2 --rate 20 --poisson --duration 1 --warmup 0.2 \
	--label selftest-poisson --quiet > selftest-loadgen-poisson.out
wait $spid && srv=0 || srv=$?
trap - EXIT
$PY - "$srv" <<'PYEOF'
import json, sys
srv = int(sys.argv[1])
g = json.load(open("selftest-loadgen.out"))
big = json.load(open("selftest-loadgen-big.out"))
poi = json.load(open("selftest-loadgen-poisson.out"))
s = json.load(open("selftest-server.out"))
ok = (srv == 0 and g["connect"]["ok"] == 6 and g["lost"] == 0 and g["delivered"] > 0
      and g["delivered"] == g["expected"] and g["frames"]["pings"] > 0 and not g["errors"]
      and g["frames"]["foreign"] == 0 and big["lost"] == 0 and big["delivered"] == big["expected"] > 0
      # the messages of the warm-up have their own histogram
      and g["warmup_latency_us"]["n"] > 0
      # 2 x 3 publishers in the first run, member 0 alone in the second, 2 rooms' member 0 in the third
      and g["publishers"] == 3 and s["senders"] == 2 * 3 + 1 + 2
      and poi["poisson"] and poi["lost"] == 0 and poi["delivered"] == poi["expected"] > 0)
# a sweep step's warm-up: 1 s + 16 messages per receiver, that part capped at 4 s
sys.path.insert(0, ".")
import sweep
for args, want in (((1.0, 150000, 100, 100), 1 + 16 / 15.0), ((1.0, 300000, 100, 20), 1 + 16 / 150.0),
                   ((1.0, 100, 4, 10), 5.0)):
    if abs(sweep.step_warmup(*args) - want) > 1e-9:
        print("selftest: step_warmup%r = %r, want %r" % (args, sweep.step_warmup(*args), want))
        ok = False
print("selftest: generator delivered %d/%d, pings %d; server %s -> %s"
      % (g["delivered"], g["expected"], g["frames"]["pings"], s, "ok" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PYEOF

# --proto socketio against the Socket.IO peer itself (bench/peers/socketio, installed by
# bench/run.sh with npm ci), pinging every 300 ms: without a pong within 1 s the server
# drops the socket, so this passes only when every ping is answered and nothing is lost
sio=peers/socketio
if ! command -v node >/dev/null 2>&1 || [ ! -f "$sio/node_modules/socket.io/package.json" ]; then
	echo "selftest: socketio part skipped: socket.io not installed in bench/$sio/node_modules (bench/run.sh installs it)"
	exit 0
fi
sport=$($PY -c 'import bench; print(bench.free_port())')
PORT=$sport PING_INTERVAL_MS=300 PING_TIMEOUT_MS=1000 node "$sio/server.js" > selftest-socketio-server.out 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
i=0
until $PY -c "import socket,sys; socket.create_connection(('127.0.0.1', $sport), 0.2)" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "selftest: the socket.io server did not listen"; cat selftest-socketio-server.out; exit 1; }
	sleep 0.1
done
./loadgen --port "$sport" --proto socketio --rooms 2 --members 3 --rate 10 --duration 2.5 --warmup 0.5 \
	--label selftest-socketio --quiet > selftest-loadgen-socketio.out
./loadgen --port "$sport" --proto socketio --join-storm --members 20 --storm-quiet 0.3 \
	--label selftest-socketio-storm --quiet > selftest-loadgen-socketio-storm.out
kill $spid
wait $spid 2>/dev/null || true
trap - EXIT
$PY - <<'PYEOF'
import json, sys
g = json.load(open("selftest-loadgen-socketio.out"))
st = json.load(open("selftest-loadgen-socketio-storm.out"))
ok = (g["connect"]["ok"] == 6 and g["lost"] == 0 and g["delivered"] == g["expected"] > 0
      and g["frames"]["sio_pings"] > 0 and g["server_closes"]["n"] == 0 and not g["errors"]
      and g["frames"]["foreign"] == 0 and g["frames"]["error"] == 0
      # every join told to everyone in the room by then: 20 * 21 / 2 "system" events
      and st["connect"]["ok"] == 20 and st["frames"]["welcome"] == 20
      and st["storm"]["system_frames"] == 210 and not st["storm"]["timed_out"])
print("selftest: socketio delivered %d/%d, engine.io pings answered %d, join storm %d system events -> %s"
      % (g["delivered"], g["expected"], g["frames"]["sio_pings"], st["storm"]["system_frames"],
         "ok" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PYEOF
