#!/usr/bin/python3
"""bench/cluster.py: chatd with the cluster plugin (two nodes on one Redis)
next to chatd alone, in the same run, interleaved (single, cluster, single,
cluster ...), on this machine.

Every room's members are split over the two nodes (odd members on node B:
loadgen --port2); the publisher is on node A, so half the receivers are on
the sender's node and half on the other one ("cross-node"). Servers (chatd
alone, or node A, node B and Redis) are pinned to core 0 (BENCH_SERVER_CPU),
the generator to core 1 (BENCH_GEN_CPU): the cluster gets the same one core
as the single node, so the CPU figures compare the cost of the same work.

Workloads:
  L  10 rooms x 20, 1 msg/s per room (W5's light load): latency p50/p99,
     all receivers and cross-node receivers; rounds interleaved
  T  100 rooms x 20 at fixed rates (deliveries/s): latency, loss, CPU of each
     process, until both setups fail (p99 > 50 ms or a loss)
  For every step: CPU us per delivery on each node, Redis CPU us per message.

Writes bench/results/cluster-<date>-<HHMM>.json and prints a markdown table.
Standard library only. Needs ./chatd, plugins/cluster/cluster.so and
redis-server (skips with exit 77 when one is missing)."""
import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import bench  # noqa: E402  (free_port)
import sweep as sw

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
log = sw.log
live = []


def free_port():
    """A free port below the ephemeral range (the same rule as bench.py's)."""
    return bench.free_port()


def child_setup():
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)


class Proc:
    def __init__(self, name, cmd, port, workdir):
        self.name, self.cmd, self.port = name, cmd, port
        self.logpath = os.path.join(workdir, "%s.log" % name)
        self.proc = None

    def start(self, check, timeout=20):
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(sw.pinned(self.cmd, SERVER_CPU), stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, preexec_fn=child_setup)
        live.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start: %s" % (self.name, open(self.logpath).read()[-2000:]))
            if check():
                return self
            time.sleep(0.1)
        raise RuntimeError("%s did not come up" % self.name)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in live:
            live.remove(self)


def listening(port):
    def check():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False
    return check


def start_redis(workdir):
    port = free_port()
    d = os.path.join(workdir, "redis")
    os.makedirs(d, exist_ok=True)
    cmd = [REDIS, "--port", port, "--bind", "127.0.0.1", "--dir", d, "--appendonly", "yes", "--appendfsync",
           "everysec", "--save", "", "--daemonize", "no", "--protected-mode", "no"]
    return Proc("redis", cmd, port, workdir).start(listening(port))


def start_chatd(workdir, name, redis_port=None):
    port = free_port()
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "chatd.conf")
    with open(conf, "w") as f:
        f.write("[server]\nbind = 127.0.0.1\nport = %d\nlog_level = warn\n" % port)
        if redis_port:
            # the benchmark's sockets all come from 8 addresses: no cluster-wide address limit
            f.write("[plugin cluster]\nredis = 127.0.0.1:%d\nnode_name = %s\naddress_messages_per_second = 0\n"
                    % (redis_port, name))
    cmd = [os.path.join(TOP, "chatd"), "-c", conf, "-P", os.path.join(TOP, "plugins"), "-D",
           os.path.join(d, "data"), "-w", os.path.join(TOP, "web")]
    return Proc(name, cmd, port, workdir).start(listening(port))


def redis_call(port, *args):
    """One command on a fresh connection; the reply as text (the bench reads INFO)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(str(a)), a) for a in args)).encode())
        data = b""
        while True:
            chunk = c.recv(65536)
            data += chunk
            if not chunk or (data.startswith(b"$") and data.count(b"\r\n") >= 2 and
                             len(data) >= int(data[1:data.index(b"\r\n")]) + data.index(b"\r\n") + 4):
                break
            if data.startswith((b"+", b"-", b":")) and data.endswith(b"\r\n"):
                break
    return data.decode(errors="replace")


def fcall_stats(port):
    """Redis's own time per FCALL (INFO commandstats: usec_per_call), and calls."""
    out = {}
    for line in redis_call(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_fcall:") or line.startswith("cmdstat_fcall_ro:"):
            name, _, rest = line.partition(":")
            kv = dict(x.split("=") for x in rest.split(","))
            out[name[8:]] = {"calls": int(kv["calls"]), "usec_per_call": float(kv["usec_per_call"])}
    return out


def base(port, port2=None):
    a = ["--port", port, "--src-addrs", 8, "--size", 100, "--proto", "chatd"]
    if port2:
        a += ["--port2", port2]
    return a


def run(setup, rooms, members, deliveries, duration, warmup, busy_poll):
    """One loadgen run against setup ({"a": Proc, "b": Proc or None, "redis": Proc or None})."""
    extra = ["--server-pid", setup["a"].pid, "--label", setup["name"]]
    if setup.get("b"):
        extra += ["--extra-pid", "node_b:%d" % setup["b"].pid, "--extra-pid", "redis:%d" % setup["redis"].pid]
    if busy_poll:
        extra.append("--busy-poll")
    args = sw.load_args(base(setup["a"].port, setup["b"].port if setup.get("b") else None), rooms, members,
                        deliveries, duration, warmup, extra)
    sw.wait_idle(setup["a"].pid, max_s=10)
    if setup.get("redis"):
        redis_call(setup["redis"].port, "CONFIG", "RESETSTAT")
    r = sw.run_loadgen(args, int(duration + warmup + 120))
    if setup.get("redis") and isinstance(r, dict):
        r["redis_commandstats"] = fcall_stats(setup["redis"].port)
    return r


def summary(r, setup_name):
    """The figures of one run."""
    if not r or "error" in r:
        return {"error": (r or {}).get("error", "no result")}
    secs = r.get("window_s") or r.get("duration_s") or 0
    out = {"setup": setup_name, "deliveries_per_s": r.get("deliveries_per_s"), "lost": r.get("lost"),
           "sent": r.get("sent"), "p50_ms": r["latency_us"]["p50"] / 1e3, "p99_ms": r["latency_us"]["p99"] / 1e3}
    if "latency_port2_us" in r:
        out["cross_p50_ms"] = r["latency_port2_us"]["p50"] / 1e3
        out["cross_p99_ms"] = r["latency_port2_us"]["p99"] / 1e3
    delivered = r.get("delivered") or 0
    srv = r.get("server") or {}
    out["node_a_cpu_pct"] = srv.get("cpu_pct")
    cpu_total = srv.get("cpu_s") or 0
    ex = r.get("extra") or {}
    if "node_b" in ex:
        out["node_b_cpu_pct"] = ex["node_b"]["cpu_pct"]
        out["redis_cpu_pct"] = ex["redis"]["cpu_pct"]
        cpu_total += ex["node_b"]["cpu_s"] + ex["redis"]["cpu_s"]
        sent = r.get("sent") or 0
        out["redis_us_per_message"] = ex["redis"]["cpu_s"] * 1e6 / sent if sent else None
        out["node_a_us_per_delivery"] = srv.get("cpu_s", 0) * 1e6 / (delivered / 2.0) if delivered else None
        out["node_b_us_per_delivery"] = ex["node_b"]["cpu_s"] * 1e6 / (delivered / 2.0) if delivered else None
    out["us_per_delivery_all"] = cpu_total * 1e6 / delivered if delivered else None
    out["machine_other_pct"] = (r.get("machine") or {}).get("other_pct")
    st = (r.get("redis_commandstats") or {}).get("fcall")
    if st:
        out["redis_fcall_us"] = st["usec_per_call"]
    del secs
    return out


def held(s):
    return "error" not in s and s.get("lost") == 0 and s.get("p99_ms", 1e9) <= 50


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of L (default 3)")
    ap.add_argument("--rates", default="10000,20000,40000,80000,120000,160000,200000",
                    help="T's deliveries/s steps")
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep-going", action="store_true",
                    help="run every T rate even after a setup failed (CPU costs on a busy machine)")
    ap.add_argument("--skip-L", action="store_true", help="T only")
    args = ap.parse_args()
    for need, what in ((os.path.join(TOP, "chatd"), "chatd (make)"),
                       (os.path.join(TOP, "plugins", "cluster", "cluster.so"), "the cluster plugin (libhiredis-dev)"),
                       (REDIS, "redis-server"), (sw.LOADGEN, "bench/loadgen (make -C bench)")):
        if not os.path.exists(need):
            print("SKIP: %s is missing" % what)
            return 77
    workdir = tempfile.mkdtemp(prefix="chatd-cluster-bench-")
    results = {"started": datetime.datetime.now().isoformat(timespec="seconds"), "L": [], "T": [],
               "machine": {"cpus": os.cpu_count()}}
    L = dict(rooms=10, members=20, rate=1, duration=20, warmup=2)
    T = dict(rooms=100, members=20, duration=5, warmup=1)
    rates = [int(x) for x in args.rates.split(",")]
    if args.quick:
        L.update(rooms=2, members=4, duration=1, warmup=0.3)
        T.update(rooms=4, members=4, duration=0.5, warmup=0.2)
        rates = [200, 400]
        args.rounds = 1
    try:
        single = {"name": "single", "a": start_chatd(workdir, "single")}
        redis = start_redis(workdir)
        a = start_chatd(workdir, "node_a", redis.port)
        b = start_chatd(workdir, "node_b", redis.port)
        cluster = {"name": "cluster", "a": a, "b": b, "redis": redis}
        time.sleep(1.0)
        for rnd in range(0 if args.skip_L else args.rounds):
            for setup in (single, cluster):
                d = L["rate"] * L["rooms"] * L["members"]
                r = run(setup, L["rooms"], L["members"], d, L["duration"], L["warmup"], True)
                s = summary(r, setup["name"])
                s["round"] = rnd
                results["L"].append(s)
                log("L round %d %s: %s" % (rnd, setup["name"], json.dumps(s)))
        failed = set()
        for d in rates:
            for setup in (single, cluster):
                if setup["name"] in failed:
                    continue
                r = run(setup, T["rooms"], T["members"], d, T["duration"], T["warmup"], False)
                s = summary(r, setup["name"])
                s["offered"] = d
                results["T"].append(s)
                log("T %d %s: %s" % (d, setup["name"], json.dumps(s)))
                if not held(s) and not args.keep_going:
                    failed.add(setup["name"])
            if len(failed) == 2:
                break
    finally:
        for p in list(live):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    out = args.out or os.path.join(HERE, "results", "%scluster-%s.json" % (
        "quick-" if args.quick else "", datetime.datetime.now().strftime("%Y-%m-%d-%H%M")))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=1)
    print(table(results))
    log("results in %s" % out)
    return 0


def fmt(v, f="%.2f"):
    return "-" if v is None else f % v


def table(res):
    lines = ["| L: 10 rooms x 20, 1 msg/s per room | round | p50 ms | p99 ms | cross-node p50 | cross-node p99 | other load % |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for s in res["L"]:
        lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (s.get("setup", "?"), s.get("round", 0), fmt(s.get("p50_ms")),
                     fmt(s.get("p99_ms")), fmt(s.get("cross_p50_ms")), fmt(s.get("cross_p99_ms")),
                     fmt(s.get("machine_other_pct"), "%.0f")))
    lines += ["", "| T: 100 rooms x 20 | offered/s | delivered/s | lost | p99 ms | us/delivery (all) | node A us/del | node B us/del | Redis us/msg (process) | FCALL us (Redis's own) | A/B/Redis CPU % |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in res["T"]:
        cpu = "%s" % fmt(s.get("node_a_cpu_pct"), "%.0f")
        if "node_b_cpu_pct" in s:
            cpu += "/%s/%s" % (fmt(s.get("node_b_cpu_pct"), "%.0f"), fmt(s.get("redis_cpu_pct"), "%.0f"))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s.get("setup", "?"), s.get("offered"), fmt(s.get("deliveries_per_s"), "%.0f"), s.get("lost"),
            fmt(s.get("p99_ms")), fmt(s.get("us_per_delivery_all")), fmt(s.get("node_a_us_per_delivery")),
            fmt(s.get("node_b_us_per_delivery")), fmt(s.get("redis_us_per_message")), fmt(s.get("redis_fcall_us")),
            cpu))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
