#!/usr/bin/python3
"""bench/bench.py: chatd against the tutorial's server, a Socket.IO chat server
from npm (bench/peers/socketio) and libwebsockets' mirror demo, same run, same
machine. Normally started by bench/run.sh (which builds bench/loadgen first).

Every server is started here pinned to core 0 (taskset -c 0) and killed here;
the generator runs on core 1. Workloads:

  W1   100 rooms x 20 members, rate sweep          (chatd, tutorial, Socket.IO)
  W2   1 room x 1,000 members, rate sweep          (chatd, tutorial, Socket.IO, lws demo)
  W3   100 rooms x 100 members (10,000 sockets)    (chatd, tutorial, Socket.IO)
  W4   19,000 idle sockets: RSS/socket, connects/s (chatd, tutorial, Socket.IO, lws demo)
  W5   10 rooms x 20, 1 msg/s per room: latency    (chatd, tutorial, Socket.IO)
  W5s  10 rooms x 20, every member 1 msg/s (4,000 deliveries/s): latency of
       chatd as users run it, etc/chatd.conf with all its plugins (chatd, tutorial, Socket.IO)
  W6   1,000 clients join one room at once         (chatd, tutorial, Socket.IO, lws demo)
  W1h  W1 with chatd's history plugin              (chatd, when history.so exists)

Every workload but W5s runs chatd without plugins (W1h adds history alone): the
core. W5s runs the stock config (etc/chatd.conf, plus bind = 127.0.0.1).
The Socket.IO peer is bench/peers/socketio/server.js (socket.io pinned in its
package.json, installed with npm ci into bench/peers/socketio/node_modules on
first use; skipped with the reason when node/npm are missing or the install
fails), run with `node`, spoken to over a plain WebSocket (loadgen --proto socketio).
The lws demo (lws-mirror-protocol) has one shared room (its mirror instances are
capped at 3), so it runs the one-room workloads only. A sweep doubles the rate
until p99 > 50 ms or anything is lost, then bisects: the figure is the highest
deliveries/s (messages/s x members) that held.

Writes bench/results/<date>-<HHMM>.json (--quick: bench/results/quick-<date>-<HHMM>.json) and
prints a markdown table on stdout; progress goes to stderr. Exit 0 when every
step that ran produced numbers. Standard library only.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import sweep as sw

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
SERVER_CPU = os.environ.get("BENCH_SERVER_CPU", "0")

log = sw.log

# ---------------------------------------------------------------- workloads

FULL = {
    "W1": dict(kind="sweep", rooms=100, members=20, duration=5, warmup=1,
               peers={"chatd": dict(start=20000, bisect=3), "tutorial": dict(start=10000, bisect=2),
                      "socketio": dict(start=10000, bisect=2)}),
    "W2": dict(kind="sweep", rooms=1, members=1000, duration=5, warmup=1,
               peers={"chatd": dict(start=20000, bisect=3), "tutorial": dict(start=5000, bisect=2),
                      "socketio": dict(start=10000, bisect=2), "lws": dict(start=20000, bisect=3)}),
    "W3": dict(kind="sweep", rooms=100, members=100, duration=5, warmup=1,
               peers={"chatd": dict(start=20000, bisect=3),
                      "tutorial": dict(start=10000, bisect=1, max_steps=4),
                      "socketio": dict(start=10000, bisect=1, max_steps=4)}),
    "W4": dict(kind="connect", rooms=1900, members=10, peers=["chatd", "tutorial", "socketio", "lws"]),
    "W5": dict(kind="latency", rooms=10, members=20, rate=1, duration=20, warmup=2, busy_poll=True,
               peers=["chatd", "tutorial", "socketio"]),
    # every member publishes (1 msg/s each, in turn) and the sockets come from
    # 20 addresses, so the stock rate limits (5 msg/s per connection, 20 per
    # address) let everything through, as they would for 200 real users
    "W5s": dict(kind="latency", rooms=10, members=20, rate=20, publishers=20, src_addrs=20, duration=20,
                warmup=2, busy_poll=True, config="stock", peers=["chatd", "tutorial", "socketio"]),
    "W6": dict(kind="storm", members=1000, peers=["chatd", "tutorial", "socketio", "lws"]),
    "W1h": dict(kind="sweep", rooms=100, members=20, duration=5, warmup=1, history=True,
                peers={"chatd": dict(start=20000, bisect=3)}),
}

QUICK = {
    "W1": dict(kind="sweep", rooms=4, members=5, duration=0.3, warmup=0.1,
               peers={p: dict(start=200, bisect=0, max_steps=2) for p in ("chatd", "tutorial", "socketio")}),
    "W2": dict(kind="sweep", rooms=1, members=20, duration=0.3, warmup=0.1,
               peers={p: dict(start=200, bisect=0, max_steps=1)
                      for p in ("chatd", "tutorial", "socketio", "lws")}),
    "W3": dict(kind="sweep", rooms=4, members=10, duration=0.3, warmup=0.1,
               peers={p: dict(start=200, bisect=0, max_steps=1) for p in ("chatd", "tutorial", "socketio")}),
    "W4": dict(kind="connect", rooms=20, members=10, peers=["chatd", "tutorial", "socketio", "lws"]),
    "W5": dict(kind="latency", rooms=2, members=5, rate=5, duration=0.3, warmup=0.1, busy_poll=True,
               peers=["chatd", "tutorial", "socketio"]),
    "W5s": dict(kind="latency", rooms=2, members=5, rate=5, publishers=5, src_addrs=5, duration=0.3,
                warmup=0.1, busy_poll=True, config="stock", peers=["chatd", "tutorial", "socketio"]),
    "W6": dict(kind="storm", members=40, peers=["chatd", "tutorial", "socketio", "lws"]),
    "W1h": dict(kind="sweep", rooms=4, members=5, duration=0.3, warmup=0.1, history=True,
                peers={"chatd": dict(start=200, bisect=0, max_steps=1)}),
}

DESCR = {
    "W1": "100 rooms x 20 members",
    "W2": "1 room x 1,000 members",
    "W3": "100 rooms x 100 members (10,000 sockets)",
    "W4": "19,000 idle sockets (rooms of 10)",
    "W5": "10 rooms x 20, 1 msg/s per room",
    "W5s": "10 rooms x 20, every member 1 msg/s; chatd with etc/chatd.conf",
    "W6": "1,000 clients join one room at once",
    "W1h": "W1 with the history plugin",
}

PEER_NAMES = {"chatd": "chatd", "tutorial": "tutorial server", "socketio": "Socket.IO", "lws": "lws mirror demo"}
PEERS = ["chatd", "tutorial", "socketio", "lws"]  # the table's column order

# ---------------------------------------------------------------- servers

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # die with bench.py, even on SIGKILL (PR_SET_PDEATHSIG = 1)
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


def free_port():
    """A free port below the ephemeral range (32768-60999 here): the generator's
    19,000 client sockets and their TIME_WAIT leftovers live in that range, so a
    port the kernel hands out there may be taken again by the time a server binds."""
    lo, hi = 20000, 32000
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            e_lo = int(f.read().split()[0])
        hi = min(hi, e_lo - 1)
    except (OSError, ValueError, IndexError):
        pass
    import random
    for _ in range(200):
        port = random.randint(lo, hi)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One server process, pinned to SERVER_CPU, always killed by stop()."""
    live = []

    def __init__(self, peer, cmd, cwd, port, workdir, env=None, health=None):
        self.peer, self.cmd, self.cwd, self.port = peer, cmd, cwd, port
        self.env, self.health = env, health
        self.logpath = os.path.join(workdir, "%s-%d.log" % (peer, port))
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=30):
        cmd = sw.pinned(self.cmd, SERVER_CPU)  # nice and taskset exec: same pid
        self.logf = open(self.logpath, "w")
        self.proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=subprocess.STDOUT,
                                     preexec_fn=_child_setup)
        Server.live.append(self)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s at start: %s" % (self.peer, self.proc.returncode,
                                                                       self.log_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if self.health:
                    urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, self.health),
                                           timeout=2).read()
                time.sleep(0.2)
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("%s did not listen on %d within %d s" % (self.peer, self.port, timeout))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=15):
        try:
            with open(self.logpath, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if not self.proc:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        if self in Server.live:
            Server.live.remove(self)
        self.logf.close()
        return rc


def kill_all():
    for s in list(Server.live):
        try:
            s.stop()
        except Exception:
            pass


def have_tutorial(seed_dir):
    if not os.path.exists(os.path.join(seed_dir, "server.py")):
        return "no server.py in %s" % seed_dir
    r = subprocess.run([PY, "-c", "import fastapi, uvicorn, websockets"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return None if r.returncode == 0 else "python3-fastapi/uvicorn/websockets missing"


def lws_binary():
    b = shutil.which("libwebsockets-test-server")
    if b:
        return b
    try:
        out = subprocess.run(["dpkg", "-L", "libwebsockets-test-server"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
        for ln in out.splitlines():
            if ln.endswith("/libwebsockets-test-server") and os.access(ln, os.X_OK):
                return ln
    except OSError:
        pass
    return None


SOCKETIO_DIR = os.path.join(HERE, "peers", "socketio")


def socketio_versions():
    """(pinned, installed) socket.io versions of bench/peers/socketio ('' when unknown)."""
    def version(path, key=None):
        try:
            with open(path) as f:
                d = json.load(f)
            return d["dependencies"]["socket.io"] if key else d["version"]
        except (OSError, ValueError, KeyError):
            return ""
    return (version(os.path.join(SOCKETIO_DIR, "package.json"), "deps"),
            version(os.path.join(SOCKETIO_DIR, "node_modules", "socket.io", "package.json")))


def have_socketio(install):
    """None when the Socket.IO peer can run, else why not. Installs socket.io with
    `npm ci` into bench/peers/socketio/node_modules when it is missing or not the
    pinned version (install=False: skip instead), as tests/e2e/run.sh does."""
    if not shutil.which("node"):
        return "no node command (install Debian's nodejs and npm: scripts/install-deps test)"
    want, have = socketio_versions()
    if not want:
        return "no socket.io version in %s" % os.path.relpath(os.path.join(SOCKETIO_DIR, "package.json"), TOP)
    if have == want:
        return None
    if not install:
        return "socket.io %s not installed in bench/peers/socketio (run npm ci there)" % want
    if not shutil.which("npm"):
        return "no npm command to install socket.io %s (install Debian's npm)" % want
    log("bench: installing socket.io %s into %s (npm ci)" % (want, os.path.relpath(SOCKETIO_DIR, TOP)))
    try:
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=SOCKETIO_DIR,
                           stdout=sys.stderr, stderr=sys.stderr, timeout=600)
        rc = r.returncode
    except (OSError, subprocess.TimeoutExpired) as e:
        rc = str(e)
    want, have = socketio_versions()
    if rc != 0 or have != want:
        return "npm ci failed in bench/peers/socketio (%s): socket.io %s is needed from the npm registry" % (rc, want)
    return None


def node_version():
    try:
        return subprocess.run(["node", "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def apt_install(pkgs):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    log("bench: installing %s" % " ".join(pkgs))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + pkgs
    if subprocess.run(cmd, env=env, stdout=sys.stderr, stderr=sys.stderr).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, stdout=sys.stderr, stderr=sys.stderr)
        return subprocess.run(cmd, env=env, stdout=sys.stderr, stderr=sys.stderr).returncode == 0
    return True


class Peers:
    def __init__(self, args, workdir):
        self.args, self.workdir = args, workdir
        self.chatd = os.path.abspath(args.chatd)
        self.seed = os.path.abspath(args.seed_dir)
        self.notes = []
        self.available = {}
        self.available["chatd"] = None if os.access(self.chatd, os.X_OK) else "no %s" % self.chatd
        why = have_tutorial(self.seed)
        if why and args.install and "missing" in why:
            apt_install(["python3-fastapi", "python3-uvicorn", "python3-websockets"])
            why = have_tutorial(self.seed)
        self.available["tutorial"] = why
        self.available["socketio"] = have_socketio(args.install) if "socketio" in args.peers.split(",") else None
        self.lws = lws_binary()
        if not self.lws and args.install:
            apt_install(["libwebsockets-test-server"])
            self.lws = lws_binary()
        self.available["lws"] = None if self.lws else "libwebsockets-test-server not installed"
        hist = os.path.join(TOP, "plugins", "history", "history.so")
        self.history = hist if os.path.exists(hist) else None
        self.stock = os.path.join(TOP, "etc", "chatd.conf")

    def missing_stock_plugins(self):
        """Why the stock config cannot run here (its plugins not built), or None."""
        if not os.path.exists(self.stock):
            return "no %s" % os.path.relpath(self.stock, TOP)
        with open(self.stock) as f:
            names = [ln.strip()[len("[plugin"):-1].strip() for ln in f if ln.strip().startswith("[plugin ")]
        missing = [n for n in names if not os.path.exists(os.path.join(TOP, "plugins", n, n + ".so"))]
        return "plugins not built: %s" % ", ".join(missing) if missing else None

    def start(self, peer, history=False, config=None):
        for attempt in range(3):
            try:
                return self._start(peer, history, config)
            except RuntimeError as e:
                if attempt == 2 or "exited" not in str(e):
                    raise
                log("bench: %s; trying another port" % e)

    def stock_config(self, port):
        """etc/chatd.conf as it is, with bind = 127.0.0.1 added to [server]
        (the benchmark listens on loopback only); written to the work directory."""
        with open(self.stock) as f:
            text = f.read()
        lines, done = [], False
        for ln in text.splitlines():
            lines.append(ln)
            if not done and ln.strip() == "[server]":
                lines.append("bind = 127.0.0.1  # added by bench/bench.py")
                done = True
        if not done:
            lines[:0] = ["[server]", "bind = 127.0.0.1  # added by bench/bench.py"]
        conf = os.path.join(self.workdir, "chatd-stock-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        return conf

    def _start(self, peer, history=False, config=None):
        port = free_port()
        if peer == "chatd":
            data = tempfile.mkdtemp(prefix="chatd-data-", dir=self.workdir)
            if config == "stock":
                # the copy's relative paths would point elsewhere: the flags
                # give the tree's own directories (flags override the file)
                cmd = [self.chatd, "-c", self.stock_config(port), "-p", port, "-D", data,
                       "-w", os.path.join(TOP, "web"), "-P", os.path.join(TOP, "plugins")]
                return Server("chatd", cmd, self.workdir, port, self.workdir, health="/healthz").start()
            conf = os.path.join(self.workdir, "chatd-%d.conf" % port)
            with open(conf, "w") as f:
                f.write("# written by bench/bench.py\n[server]\nbind = 127.0.0.1\nport = %d\n"
                        "web_root = %s\ndata_dir = %s\nplugin_dir = %s\nlog_level = warn\n"
                        % (port, os.path.join(TOP, "web"), data, os.path.join(TOP, "plugins")))
                if history:
                    f.write("\n[plugin history]\n")
            cmd = [self.chatd, "-c", conf]
            return Server("chatd", cmd, self.workdir, port, self.workdir, health="/healthz").start()
        if peer == "tutorial":
            env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
            cmd = [PY, "-m", "uvicorn", "server:app", "--host", "127.0.0.1", "--port", str(port),
                   "--log-level", "warning"]
            return Server("tutorial", cmd, self.seed, port, self.workdir, env=env).start()
        if peer == "socketio":
            env = dict(os.environ, PORT=str(port), HOST="127.0.0.1", NODE_ENV="production")
            cmd = ["node", os.path.join(SOCKETIO_DIR, "server.js")]
            return Server("socketio", cmd, SOCKETIO_DIR, port, self.workdir, env=env, health="/healthz").start()
        if peer == "lws":
            cmd = [self.lws, "--port", str(port), "-d", "1"]
            return Server("lws", cmd, self.workdir, port, self.workdir).start()
        raise ValueError(peer)


def base_args(peer, server, quick, src_addrs=8):
    a = ["--port", server.port, "--src-addrs", src_addrs, "--size", 100]
    if quick:
        a += ["--settle-ms", 100, "--drain", 1]
    if peer == "chatd":
        a += ["--proto", "chatd"]
    elif peer == "tutorial":
        a += ["--proto", "tutorial"]
    elif peer == "socketio":
        a += ["--proto", "socketio"]  # loadgen's default path: /socket.io/?EIO=4&transport=websocket&room=...
    else:
        a += ["--proto", "mirror", "--path-template", "/", "--subprotocol", "lws-mirror-protocol"]
    return a


# ---------------------------------------------------------------- running

def got_numbers(kind, r):
    if not r or "error" in r:
        return False
    if kind in ("sweep", "latency"):
        return r.get("delivered", 0) > 0
    return r["connect"]["ok"] > 0


def run_workload(wname, w, peer, server, quick):
    """Returns a record {"workload", "peer", "kind", "result"/"sweep", "ok"}."""
    kind = w["kind"]
    rec = {"workload": wname, "peer": peer, "kind": kind}
    base = base_args(peer, server, quick, w.get("src_addrs", 8))
    label = "%s-%s" % (wname, peer)
    idle_max = 0.3 if quick else 15
    if kind == "sweep":
        p = w["peers"][peer]
        res = sw.sweep(base, w["rooms"], w["members"], p["start"], server_pid=server.pid,
                       duration=w["duration"], warmup=w["warmup"], bisect=p.get("bisect", 3),
                       max_steps=p.get("max_steps", 12), label=label, retry_noisy=not quick,
                       idle_max=idle_max, quiet_wait=0 if quick else 20)
        rec["sweep"] = res
        rec["ok"] = bool(res["steps"]) and all(got_numbers(kind, s) for s in res["steps"])
        return rec
    sw.wait_idle(server.pid, max_s=idle_max)
    if not quick:
        sw.wait_machine_quiet([server.pid], max_s=20)
    extra = ["--server-pid", server.pid, "--label", label]
    if kind == "latency":
        if w.get("busy_poll"):
            extra.append("--busy-poll")
        if w.get("publishers"):
            extra += ["--publishers", w["publishers"]]
        args = sw.load_args(base, w["rooms"], w["members"], w["rate"] * w["rooms"] * w["members"],
                            w["duration"], w["warmup"], extra)
        r = sw.run_loadgen(args, int(w["duration"] + w["warmup"] + 120))
    elif kind == "connect":
        args = base + ["--connect-only", "--rooms", w["rooms"], "--members", w["members"],
                       "--connect-timeout", 150, "--hold", 0.2 if quick else 1] + extra
        r = sw.run_loadgen(args, 300)
    elif kind == "storm":
        args = base + ["--join-storm", "--members", w["members"], "--storm-timeout", 60,
                       "--storm-quiet", 0.3 if quick else 1] + extra
        r = sw.run_loadgen(args, 200)
    else:
        raise ValueError(kind)
    rec["result"] = r
    rec["ok"] = got_numbers(kind, r)
    if "error" in r:
        log("bench: %s against %s: %s" % (wname, peer, r["error"]))
    return rec


# ---------------------------------------------------------------- the table

def fmt_rate(v):
    return "%s" % format(int(round(v)), ",") if v is not None else "n/a"


def figures(records, quick=False):
    """{(workload, peer): {metric: value}} from the records."""
    out = {}
    for rec in records:
        key = (rec["workload"], rec["peer"])
        f = {}
        if rec.get("skipped"):
            f["skipped"] = rec["skipped"]
        elif rec["kind"] == "sweep":
            best = rec["sweep"]["best"]
            fail = rec["sweep"]["first_fail"]
            f["held"] = best["step_deliveries"] if best else 0
            f["held_delivered"] = best["deliveries_per_s"] if best else 0
            f["p99_ms"] = best["latency_us"]["p99"] / 1000 if best else None
            warm = (best or {}).get("warmup_latency_us", {})
            f["warm_p99_ms"] = warm["p99"] / 1000 if warm.get("n") else None
            f["cpu_us"] = (best.get("server") or {}).get("cpu_us_per_delivery") if best else None
            f["failed_at"] = fail["step_deliveries"] if fail else None
            f["fail_why"] = sw.why_failed(fail) if fail else None
            f["gen_saturated"] = bool(best and best.get("generator", {}).get("saturated"))
        elif "result" in rec and "error" not in rec["result"]:
            r = rec["result"]
            if rec["kind"] == "latency":
                lat = r["latency_us"]
                f.update(p50_ms=lat.get("p50", 0) / 1000, p99_ms=lat.get("p99", 0) / 1000,
                         p999_ms=lat.get("p999", 0) / 1000, max_ms=lat.get("max", 0) / 1000,
                         lost=r["lost"])
            elif rec["kind"] == "connect":
                f.update(sockets=r["connect"]["ok"], failed=r["connect"]["failed"],
                         per_s=r["connect"]["per_s"],
                         rss_kb=(r.get("server") or {}).get("rss_per_socket_bytes", 0) / 1024)
            elif rec["kind"] == "storm":
                f.update(welcome_s=r["storm"]["welcome_all_s"], drained_s=r["storm"]["drained_s"],
                         clients=r["connect"]["ok"], failed=r["connect"]["failed"],
                         timed_out=r["storm"]["timed_out"])
        else:
            f["error"] = (rec.get("result") or {}).get("error", "no result")
        if not quick and not rec.get("skipped") and noisy_share(rec) > NOISY:
            f["noisy"] = round(noisy_share(rec))
        out[key] = f
    return out


ROWS = [
    # (workload, metric, title, format, higher_is_better, target)
    ("W1", "held", "W1 deliveries/s held (p99 < 50 ms, no loss)", "rate", True, ">= 200,000"),
    ("W1", "p99_ms", "W1 p99 at that rate (ms)", "%.1f", False, "< 50"),
    ("W1", "cpu_us", "W1 server CPU per delivery (us)", "%.2f", False, ""),
    ("W2", "held", "W2 deliveries/s held", "rate", True, ">= 200,000"),
    ("W2", "p99_ms", "W2 p99 at that rate (ms)", "%.1f", False, "< 50"),
    ("W3", "held", "W3 deliveries/s held (10,000 sockets)", "rate", True, ">= 150,000"),
    ("W3", "p99_ms", "W3 p99 at that rate (ms)", "%.1f", False, "< 50"),
    ("W3", "warm_p99_ms", "W3 p99 during that step's warm-up (ms)", "%.1f", False, ""),
    ("W4", "rss_kb", "W4 server RSS per idle socket (KB)", "%.2f", False, "<= 4"),
    ("W4", "per_s", "W4 connects/s (to welcome)", "rate", True, ">= 5,000"),
    ("W4", "sockets", "W4 idle sockets held", "rate", True, "19,000"),
    ("W5", "p50_ms", "W5 latency p50 (ms)", "%.2f", False, "< 1"),
    ("W5", "p99_ms", "W5 latency p99 (ms)", "%.2f", False, "< 5"),
    ("W5s", "p50_ms", "W5s latency p50, stock config (ms)", "%.2f", False, "< 1"),
    ("W5s", "p99_ms", "W5s latency p99, stock config (ms)", "%.2f", False, "< 5"),
    ("W6", "welcome_s", "W6 every welcome after (s)", "%.2f", False, ""),
    ("W6", "drained_s", "W6 join notices drained after (s)", "%.2f", False, "< 2"),
    ("W1h", "held", "W1 + history deliveries/s held", "rate", True, ">= 90% of W1"),
]


def cell(f, metric, fmt):
    if f is None:
        return "n/a"
    if "skipped" in f:
        return "skipped"
    if "error" in f:
        return "error"
    v = f.get(metric)
    if v is None:
        if metric in ("p99_ms", "warm_p99_ms", "cpu_us") and f.get("held") == 0:
            return "-"
        return "n/a"
    s = fmt_rate(v) if fmt == "rate" else fmt % v
    if metric == "held" and v == 0:
        s = "0 (fails at %s: %s)" % (fmt_rate(f.get("failed_at")), f.get("fail_why"))
    if metric == "held" and f.get("gen_saturated"):
        s += " (generator-bound)"
    if metric == "sockets" and f.get("failed"):
        s += " (%d failed)" % f["failed"]
    if metric in ("p50_ms", "p99_ms") and f.get("lost"):
        s += " (%d lost)" % f["lost"]
    if metric == "drained_s" and f.get("timed_out"):
        s = "> %s (timed out)" % s
    if f.get("noisy"):
        s += " *"
    return s


def ratio(a, b, higher):
    try:
        a, b = float(a), float(b)
    except (TypeError, ValueError):
        return "n/a"
    if a <= 0 or b <= 0:
        return "n/a"
    return "%.1fx" % (a / b if higher else b / a)


def table(records, quick=False):
    fig = figures(records, quick)
    # a run saved before the Socket.IO peer existed keeps its old columns
    peers = [p for p in PEERS if p != "socketio" or any(k[1] == p for k in fig)]
    short = {"tutorial": "tutorial", "socketio": "Socket.IO", "lws": "lws"}
    lines = ["| workload / metric | %s | %s | target |" % (
                 " | ".join(PEER_NAMES[p] for p in peers),
                 " | ".join("chatd vs %s" % short[p] for p in peers[1:])),
             "|---|" + "---:|" * (2 * len(peers) - 1) + "---|"]
    for w, metric, title, fmt, higher, target in ROWS:
        if not any((w, p) in fig for p in peers):
            continue
        vals = [fig.get((w, p)) for p in peers]
        cells = [cell(v, metric, fmt) for v in vals]
        raw = [(v or {}).get(metric) if v and "skipped" not in v and "error" not in v else None
               for v in vals]
        lines.append("| %s | %s | %s | %s |" % (
            title, " | ".join(cells), " | ".join(ratio(raw[0], r, higher) for r in raw[1:]), target))
    lines.append("")
    if any(f.get("noisy") for f in fig.values()):
        lines.append("\\* measured while other processes on the machine used more than %d%% of a core: "
                     "read with care." % NOISY)
        lines.append("")
    lines.append("Ratios read \"chatd is N times better\" (for time, memory and CPU: the peer's "
                 "figure over chatd's). n/a: the peer cannot run that workload (the lws demo has one room; "
                 "W1h is chatd's history plugin).")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def git_info():
    def g(*a):
        try:
            return subprocess.run(["git", "-C", TOP] + list(a), stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True).stdout.strip()
        except OSError:
            return ""
    return {"commit": g("rev-parse", "HEAD"), "dirty": bool(g("status", "--porcelain", "--untracked-files=no"))}


def machine_info():
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "node": node_version(), "socketio": socketio_versions()[1]}
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    info["cpu"] = ln.split(":", 1)[1].strip()
                    break
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = f.read().split()[:3]
        info["fd_limit"] = int(subprocess.run(["sh", "-c", "ulimit -n"], stdout=subprocess.PIPE,
                                              text=True).stdout.strip() or 0)
    except (OSError, ValueError):
        pass
    return info


NOISY = 25.0  # % of a core used by other processes during a measurement


def noisy_share(rec):
    """% of a core that other processes used while rec was measured (its best
    step for a sweep)."""
    if rec.get("kind") == "sweep":
        best = (rec.get("sweep") or {}).get("best") or {}
        return best.get("machine", {}).get("other_pct", 0.0)
    return (rec.get("result") or {}).get("machine", {}).get("other_pct", 0.0)


def run_on_fresh_server(peers, quick_servers, wname, w, peer, quick):
    """Start the server (in quick mode: reuse one per peer), run the workload,
    stop the server. Returns the record."""
    server = None
    try:
        if quick and not w.get("history") and not (peer == "chatd" and w.get("config")):
            server = quick_servers.get(peer)
            if server is None or not server.alive():
                server = quick_servers[peer] = peers.start(peer)
        else:
            server = peers.start(peer, history=w.get("history", False),
                                 config=w.get("config") if peer == "chatd" else None)
        rec = run_workload(wname, w, peer, server, quick)
        if not server.alive():
            rec["ok"] = False
            rec["server_died"] = server.log_tail()
            log("bench: %s died during %s (exit %s):\n%s" % (peer, wname, server.proc.returncode,
                                                          rec["server_died"]))
    except RuntimeError as e:
        rec = {"workload": wname, "peer": peer, "kind": w["kind"], "ok": False,
               "result": {"error": str(e)}}
        log("bench: %s" % e)
    finally:
        if server is not None and not (quick and server is quick_servers.get(peer)):
            rc = server.stop()
            if peer == "chatd" and rc not in (0, None):
                log("bench: chatd exited %s on SIGTERM (expected 0)" % rc)
    return rec


def print_report(result, path):
    """Print the markdown report of one run: result is the saved results
    object (as written to path)."""
    quick = result.get("quick", False)
    print("## chatd benchmark, %s%s\n" % (result["date"], " (quick smoke run: sizes are tiny, "
                                           "the figures mean nothing)" if quick else ""))
    print("Same run, same machine (%s, %s CPUs): servers pinned to core %s, generator to core %s, "
          "both at nice %s. git %s%s.\n" % (result["machine"].get("cpu", "?"), result["machine"]["cpus"],
                                           result.get("server_cpu", SERVER_CPU), result["generator_cpu"],
                                           result["nice"], result["git"]["commit"][:12],
                                           " (dirty tree)" if result["git"]["dirty"] else ""))
    print(table(result["records"], quick))
    for n in result.get("notes", []):
        print("\n- %s" % n, end="")
    print("\n\nResults: %s (%.0f s)" % (os.path.relpath(path, TOP), result.get("seconds", 0)))


def main():
    ap = argparse.ArgumentParser(description="chatd benchmark: chatd vs the tutorial server, Socket.IO "
                                 "and the lws demo")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds per server (CI smoke)")
    ap.add_argument("--workloads", default=None, help="comma list, e.g. W1,W4 (default: all)")
    ap.add_argument("--peers", default="chatd,tutorial,socketio,lws",
                    help="comma list of chatd,tutorial,socketio,lws")
    ap.add_argument("--chatd", default=os.path.join(TOP, "chatd"))
    # The tutorial's server.py is not part of this repository: SEED_SERVER_PY names it
    # (.ci/run sets it); else the shared/seed folder next to the clone, where the project's
    # own machines keep it. Without it the tutorial peer is skipped, with the reason.
    seed_py = os.environ.get("SEED_SERVER_PY")
    ap.add_argument("--seed-dir", default=os.path.dirname(os.path.abspath(seed_py)) if seed_py
                    else os.path.join(os.path.dirname(TOP), "shared", "seed"),
                    help="folder of the tutorial's server.py (default: $SEED_SERVER_PY's, else ../shared/seed)")
    ap.add_argument("--out", default=None, help="results file (default bench/results/<date>-<HHMM>.json)")
    ap.add_argument("--no-install", dest="install", action="store_false",
                    help="do not apt-get install missing peers (they are skipped)")
    ap.add_argument("--table", metavar="RESULTS", default=None,
                    help="print the markdown table of an existing results file and exit")
    args = ap.parse_args()
    if args.table:
        with open(args.table) as f:
            print_report(json.load(f), args.table)
        return 0

    plan = QUICK if args.quick else FULL
    wanted = args.workloads.split(",") if args.workloads else list(plan)
    for w in wanted:
        if w not in plan:
            ap.error("unknown workload %s" % w)
    want_peers = args.peers.split(",")
    if not os.access(sw.LOADGEN, os.X_OK):
        log("bench: %s is missing: run make -C bench" % sw.LOADGEN)
        return 2

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)

    t_start = time.monotonic()
    started = datetime.datetime.now()
    workdir = tempfile.mkdtemp(prefix="chatd-bench-")
    records, notes = [], []
    failures = 0
    try:
        peers = Peers(args, workdir)
        for p, why in peers.available.items():
            if why and p in want_peers:
                notes.append("%s skipped: %s" % (PEER_NAMES[p], why))
                log("bench: %s" % notes[-1])
        if not args.quick:
            other = sw.wait_machine_quiet(max_s=30)
            if other > 0.25:
                notes.append("the machine was busy at the start (%.0f%% of a core used by other "
                             "processes): figures may be low" % (other * 100))
                log("bench: warning: %s" % notes[-1])
        quick_servers = {}
        for wname in wanted:
            w = plan[wname]
            wpeers = list(w["peers"]) if isinstance(w["peers"], dict) else w["peers"]
            for peer in wpeers:
                if peer not in want_peers:
                    continue
                if peers.available.get(peer):
                    records.append({"workload": wname, "peer": peer, "kind": w["kind"],
                                    "skipped": peers.available[peer]})
                    continue
                if w.get("config") == "stock" and peer == "chatd" and peers.missing_stock_plugins():
                    why = peers.missing_stock_plugins()
                    notes.append("%s skipped: %s" % (wname, why))
                    log("bench: %s" % notes[-1])
                    records.append({"workload": wname, "peer": peer, "kind": w["kind"], "skipped": why})
                    continue
                if w.get("history") and not peers.history:
                    note = "W1h skipped: plugins/history/history.so does not exist yet"
                    if note not in notes:
                        notes.append(note)
                        log("bench: %s" % note)
                    records.append({"workload": wname, "peer": peer, "kind": w["kind"],
                                    "skipped": "no history plugin"})
                    continue
                log("bench: === %s (%s) against %s ===" % (wname, DESCR[wname], PEER_NAMES[peer]))
                t0 = time.monotonic()
                for attempt in (1, 2):
                    rec = run_on_fresh_server(peers, quick_servers, wname, w, peer, args.quick)
                    other = noisy_share(rec)
                    if args.quick or w["kind"] == "sweep" or attempt == 2 or other <= NOISY:
                        break
                    log("bench: %s against %s ran while other processes used %.0f%% of a core: "
                        "once more" % (wname, peer, other))
                    sw.wait_machine_quiet(max_s=60)
                rec["seconds"] = round(time.monotonic() - t0, 1)
                records.append(rec)
                if not rec.get("ok"):
                    failures += 1
                    log("bench: %s against %s produced no numbers" % (wname, peer))
    except KeyboardInterrupt:
        log("bench: interrupted")
        failures += 1
    finally:
        kill_all()

    elapsed = time.monotonic() - t_start
    result = {
        "date": started.isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(elapsed, 1),
        "git": git_info(),
        "machine": machine_info(),
        "server_cpu": SERVER_CPU,
        "nice": sw.nice_level(),
        "generator_cpu": os.environ.get("BENCH_GEN_CPU", "1"),
        "notes": notes,
        "figures": {"%s/%s" % k: v for k, v in figures(records, args.quick).items()},
        "records": records,
    }
    out = args.out
    if not out:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        out = os.path.join(HERE, "results", "%s%s.json" % ("quick-" if args.quick else "",
                                                           started.strftime("%Y-%m-%d-%H%M")))
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    shutil.rmtree(workdir, ignore_errors=True)

    print_report(result, out)
    log("bench: %d step(s) without numbers; results in %s" % (failures, out))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        kill_all()
