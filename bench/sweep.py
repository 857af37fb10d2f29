#!/usr/bin/python3
"""bench/sweep.py: raise the message rate until p99 passes 50 ms or anything is
lost, and report the highest delivered rate that held.

Used by bench/bench.py; also runs alone against a server that is already up:

    bench/sweep.py --port 8000 --server-pid $(pidof chatd) --rooms 100 --members 20

One bench/loadgen --serve process (pinned to core 1 with taskset when it exists)
connects the sockets once and waits for the join notices to drain; each step is
then a warm-up and a measured window at one rate over those sockets, after the
server went idle again (the warm-up also covers the receivers' TCP quick-ACK
phase: see step_warmup). When a step loses sockets (a slow client closed by the
server, say), the next step reconnects from scratch. Rates are deliveries/s
(messages/s x members); the rate doubles until a step fails, then the gap between
the last pass and the first fail is bisected (geometrically). A step that fails
while something else on the machine used more than a quarter of a core is run
once more. Standard library only.
"""
import argparse
import json
import math
import os
import select
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOADGEN = os.path.join(HERE, "loadgen")

P99_LIMIT_US = 50000.0

# Linux answers the first 16 segments a socket receives after an idle gap
# longer than its retransmission timeout (200 ms at least) with an ACK each at
# once (quick-ACK mode, TCP_MAX_QUICKACKS). Every step starts after such a gap
# (the server is left to go idle). On loopback the quick ACKs are sent and
# received on the sending server's core, so until each receiver has had 16
# messages that core handles twice the packets (measured for W3:
# /proc/net/softnet_stat showed 285,000 packets/s on the server's core at
# 160,000 deliveries/s, then 160,000 once quick-ACK mode ended). The warm-up
# of each step therefore covers 16 messages per receiver on top of the
# configured warm-up, and the generator reports the warm-up's own latency.
# The addition is capped: below 4 messages/s per receiver no workload here
# is near a server's limit, and a longer wait would only cost time.
QUICKACK_SEGMENTS = 16
QUICKACK_WARMUP_MAX_S = 4.0


def step_warmup(warmup, deliveries, rooms, members):
    """The warm-up of a step at deliveries/s: warmup seconds after every
    receiver has had its QUICKACK_SEGMENTS quick-ACKed messages (that part
    capped at QUICKACK_WARMUP_MAX_S)."""
    per_receiver = deliveries / float(rooms * members)
    return warmup + min(QUICKACK_SEGMENTS / per_receiver, QUICKACK_WARMUP_MAX_S)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """utime + stime of pid in seconds, None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid, max_s=15.0, below=0.03, interval=0.25):
    interval = min(interval, max_s / 4.0)
    """Wait until pid uses less than `below` of a core for two intervals in a row
    (the previous step's sockets and notices are gone). Returns seconds waited."""
    if not pid:
        return 0.0
    t0 = time.monotonic()
    quiet = 0
    last = cpu_seconds(pid)
    while last is not None and time.monotonic() - t0 < max_s:
        time.sleep(interval)
        now = cpu_seconds(pid)
        if now is None:
            break
        quiet = quiet + 1 if now - last < below * interval else 0
        last = now
        if quiet >= 2:
            break
    return time.monotonic() - t0


def wait_machine_quiet(exclude_pids=(), max_s=30.0, limit=0.25):
    """Wait (at most max_s) until the rest of the machine uses under `limit` of a
    core over one second. Returns that share (cores) at the end."""
    t0 = time.monotonic()
    while True:
        b0 = machine_busy()
        c0 = sum(cpu_seconds(p) or 0 for p in exclude_pids)
        time.sleep(1.0)
        other = machine_busy() - b0 - (sum(cpu_seconds(p) or 0 for p in exclude_pids) - c0)
        if other < limit or time.monotonic() - t0 >= max_s:
            return max(other, 0.0)


def nice_level():
    """Servers and generator run at this nice level (root only): other work on the
    machine then disturbs a run less. BENCH_NICE overrides (0 = off)."""
    return os.environ.get("BENCH_NICE", "-10" if os.geteuid() == 0 else "0")


def pinned(cmd, cpu):
    """cmd run as `nice -n N taskset -c CPU cmd...`: both exec, so the pid is cmd's."""
    cmd = [str(c) for c in cmd]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu)] + cmd
    if nice_level() not in ("", "0") and shutil.which("nice"):
        cmd = ["nice", "-n", nice_level()] + cmd
    return cmd


def run_loadgen(args, timeout):
    """Run loadgen with args (a list), pinned to core 1; returns its JSON dict
    (or a dict with "error")."""
    cmd = pinned([LOADGEN] + list(args), os.environ.get("BENCH_GEN_CPU", "1"))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return {"error": "loadgen timed out after %d s" % timeout, "cmd": cmd}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": "loadgen exit %d, no JSON" % p.returncode, "cmd": cmd}
    try:
        return json.loads(lines[-1])
    except ValueError as e:
        return {"error": "bad JSON from loadgen: %s" % e, "cmd": cmd}


class Session:
    """A loadgen --serve process: the sockets stay open between steps."""

    def __init__(self, base, rooms, members, server_pid=None, label="", timeout=180):
        self.rooms, self.members = rooms, members
        args = ["--serve"] + list(base) + ["--rooms", rooms, "--members", members, "--label", label]
        if server_pid:
            args += ["--server-pid", server_pid]
        self.cmd = pinned([LOADGEN] + args, os.environ.get("BENCH_GEN_CPU", "1"))
        self.p = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self._read(timeout)

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                return {"error": "loadgen did not answer within %d s" % timeout}
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                continue
            line = self.p.stdout.readline()
            if not line:
                self.close()
                return {"error": "loadgen exited (%s)" % self.p.poll()}
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError as e:
                    return {"error": "bad JSON from loadgen: %s" % e}

    def alive(self):
        return self.p.poll() is None and "error" not in self.ready

    def step(self, deliveries, duration, warmup, timeout):
        rate = deliveries / float(self.rooms * self.members)
        warmup = step_warmup(warmup, deliveries, self.rooms, self.members)
        try:
            self.p.stdin.write("run %.6g %g %g\n" % (rate, duration, warmup))
            self.p.stdin.flush()
        except OSError as e:
            return {"error": "loadgen: %s" % e}
        return self._read(timeout)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.close()
                self.p.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()


def step_passes(r):
    """The rule: nothing lost, nobody refused or dropped, p99 <= 50 ms."""
    if "error" in r:
        return False
    lat = r.get("latency_us", {})
    return (r.get("lost", 1) == 0 and r.get("delivered", 0) > 0
            and r["connect"]["failed"] == 0 and r.get("dropped", 0) == 0
            and r["server_closes"]["n"] == 0 and lat.get("p99", 1e18) <= P99_LIMIT_US)


def why_failed(r):
    if "error" in r:
        return r["error"]
    out = []
    if r["connect"]["failed"]:
        out.append("%d connects failed" % r["connect"]["failed"])
    if r.get("lost"):
        out.append("%d of %d lost" % (r["lost"], r["expected"]))
    if r.get("dropped") or r["server_closes"]["n"]:
        out.append("%d dropped, closes %s" % (r.get("dropped", 0), r["server_closes"]["codes"]))
    p99 = r.get("latency_us", {}).get("p99")
    if p99 is not None and p99 > P99_LIMIT_US:
        out.append("p99 %.1f ms" % (p99 / 1000))
    return ", ".join(out) or "no deliveries"


def load_args(base, rooms, members, deliveries, duration, warmup, extra=()):
    rate = deliveries / float(rooms * members)
    return (list(base) + ["--rooms", rooms, "--members", members, "--rate", "%.6g" % rate,
                          "--duration", duration, "--warmup", warmup] + list(extra))


def sweep(base, rooms, members, start, server_pid=None, duration=5.0, warmup=1.0,
          factor=2.0, bisect=3, max_steps=12, max_deliveries=1280000, min_deliveries=None,
          extra=(), label="", retry_noisy=True, idle_max=15.0, quiet_wait=0.0):
    """Returns {"best": step or None, "first_fail": step or None, "steps": [...]}.
    base: loadgen arguments naming the server (--port, --proto...)."""
    steps = []
    min_deliveries = min_deliveries or start / 8.0
    timeout = int(duration + warmup + QUICKACK_WARMUP_MAX_S + 180)
    sess = [None]

    def measure(d):
        if server_pid and cpu_seconds(server_pid) is None:
            return {"error": "server is gone"}
        if sess[0] is None or not sess[0].alive():
            if sess[0] is not None:
                sess[0].close()
            sess[0] = Session(base, rooms, members, server_pid, label, timeout=timeout + 120)
            if "error" in sess[0].ready:
                r, sess[0] = sess[0].ready, None
                return r
        wait_idle(server_pid, max_s=idle_max)
        if quiet_wait:
            # do not start a step while another process (a test suite, a build) is busy
            wait_machine_quiet([p for p in (server_pid, sess[0].p.pid) if p], max_s=quiet_wait)
        r = sess[0].step(d, duration, warmup, timeout)
        if "error" in r or r.get("open", 0) < rooms * members:
            sess[0].close()  # sockets were lost: reconnect for the next step
            sess[0] = None
        return r

    def run(d):
        tries = 0
        while True:
            r = measure(d)
            r["step_deliveries"] = d
            r["passed"] = step_passes(r)
            noisy = r.get("machine", {}).get("other_pct", 0) > 25
            if r["passed"] or not noisy or not retry_noisy or tries >= 2:
                break
            tries += 1
            log("sweep %s: %d/s failed (%s) while the machine was busy (%.0f%% of a core "
                "elsewhere): once more" % (label, d, why_failed(r), r["machine"]["other_pct"]))
            if not quiet_wait:
                wait_machine_quiet([server_pid] if server_pid else [])
        r["noisy_retry"] = tries
        steps.append(r)
        log("sweep %s: %d deliveries/s -> %s" % (label, d, "held" if r["passed"] else
                                                    "FAILED: " + why_failed(r)))
        return r

    try:
        return _search(run, steps, start, factor, bisect, max_steps, max_deliveries, min_deliveries,
                       label)
    finally:
        if sess[0] is not None:
            sess[0].close()


def _search(run, steps, start, factor, bisect, max_steps, max_deliveries, min_deliveries, label):
    best = fail = None
    d = float(start)
    while len(steps) < max_steps:
        r = run(d)
        if "error" in r and r["error"] == "server is gone":
            break
        if r["passed"]:
            best = r
            if r.get("generator", {}).get("saturated"):
                # A pass still counts: latency runs from each message's intended
                # send time and loss is exact, so a late generator can only make
                # the server look worse. The figure is marked generator-bound.
                log("sweep %s: the generator is saturated; the step held anyway: going on" % label)
            if d * factor > max_deliveries:
                break
            d *= factor
        else:
            fail = r
            break
    if best is None and fail is not None:
        # the first step failed: go down until one holds
        while len(steps) < max_steps and d / factor >= min_deliveries:
            d /= factor
            r = run(d)
            if r["passed"]:
                best = r
                break
            fail = r
    for _ in range(bisect):
        if best is None or fail is None or len(steps) >= max_steps:
            break
        lo, hi = best["step_deliveries"], fail["step_deliveries"]
        if hi / lo < 1.08:
            break
        r = run(math.sqrt(lo * hi))
        if r["passed"]:
            best = r
        else:
            fail = r
    return {"best": best, "first_fail": fail, "steps": steps}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--proto", default="chatd", choices=["chatd", "tutorial", "mirror", "socketio"])
    ap.add_argument("--path-template", default=None)
    ap.add_argument("--subprotocol", default=None)
    ap.add_argument("--rooms", type=int, default=100)
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--start", type=float, default=20000, help="first step, deliveries/s")
    ap.add_argument("--max", type=float, default=1280000, help="highest step, deliveries/s")
    ap.add_argument("--bisect", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=12)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--src-addrs", type=int, default=8)
    a = ap.parse_args()
    base = ["--port", a.port, "--proto", a.proto, "--size", a.size, "--src-addrs", a.src_addrs]
    if a.path_template:
        base += ["--path-template", a.path_template]
    if a.subprotocol:
        base += ["--subprotocol", a.subprotocol]
    res = sweep(base, a.rooms, a.members, a.start, server_pid=a.server_pid, duration=a.duration,
                warmup=a.warmup, bisect=a.bisect, max_steps=a.max_steps, max_deliveries=a.max,
                label="sweep")
    best = res["best"]
    print(json.dumps(res))
    if best:
        log("highest rate that held: %.0f deliveries/s (p99 %.2f ms)"
            % (best["deliveries_per_s"], best["latency_us"]["p99"] / 1000))
    else:
        log("no rate held")
    return 0 if best else 1


if __name__ == "__main__":
    sys.exit(main())
