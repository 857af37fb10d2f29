#!/usr/bin/python3
"""Helpers shared by the hostile-client, churn and fault tests (not a test itself).

- metrics(srv) / metric(srv, name): /metrics as a dict.
- proc_fds(pid), proc_rss_kb(pid): what the server holds right now.
- wait_for(fn, timeout): poll until fn() is true.
- Chatter: 100+ well-behaved clients in a separate process (so the GIL of the
  attacking test process does not distort their latencies) that chat at a fixed
  pace, measure the delivery latency of every message they receive, and report
  disconnects, lost messages and out-of-order ids per phase.

Run as a script (what Chatter does):
    test_hostile_util.py chatter PORT CLIENTS ROOMS INTERVAL_S [NAME_PREFIX]
then control it on stdin with lines `phase NAME` and `stop`; it prints `ready`
once every client has joined and one JSON line of results after `stop`.
"""

import json
import os
import re
import selectors
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsclient  # noqa: E402
from chatdtest import http_request  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


# -- server inspection ---------------------------------------------------------

def metrics(srv_or_port):
    """/metrics as {name: value}; plugin counters as 'plugin/name'."""
    port = srv_or_port if isinstance(srv_or_port, int) else srv_or_port.port
    status, _, body = http_request(port, "/metrics")
    assert status == 200, status
    out = {}
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^chatd_plugin_counter\{plugin="([^"]+)",name="([^"]+)"\} (-?\d+)$', line)
        if m:
            out["%s/%s" % (m.group(1), m.group(2))] = int(m.group(3))
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = int(value)
        except ValueError:
            pass
    return out


def metric(srv, name):
    return metrics(srv).get(name)


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def proc_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_for(fn, timeout=5.0, interval=0.05):
    """Poll fn() until it returns something true; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def percentile(samples, p):
    if not samples:
        return None
    s = sorted(samples)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def frame_kinds(frames):
    """{'welcome': 1, 'error:rate_limited': 20, 'close:1008': 1, ...} for a list of frames."""
    out = {}
    for op, payload in frames:
        if op == wsclient.OP_TEXT:
            try:
                o = json.loads(payload)
            except ValueError:
                k = "text?"
            else:
                k = o.get("type", "?")
                if o.get("type") == "error":
                    k += ":" + str(o.get("code"))
                elif o.get("type") == "system":
                    k += ":" + str(o.get("event"))
        elif op == wsclient.OP_CLOSE:
            k = "close:%s" % (payload[0],)
        else:
            k = wsclient.OPNAMES.get(op, "op%d" % op)
        out[k] = out.get(k, 0) + 1
    return out


# -- the well-behaved crowd ----------------------------------------------------

class Chatter:
    """N normal clients from 127.0.0.1 in R rooms, in a child process.

        ch = Chatter(port, clients=120, rooms=6, interval=1.0)
        ch.start()            # returns once every client joined
        ch.phase("quiet"); time.sleep(3); ch.phase("abuse"); ...
        res = ch.stop()       # {"phases": {...}, "disconnected": [...], "lost": n, ...}
    """

    def __init__(self, port, clients=120, rooms=6, interval=1.0, prefix="n"):
        self.args = [sys.executable, os.path.abspath(__file__), "chatter", str(port), str(clients), str(rooms),
                     str(interval), prefix]
        self.proc = None

    def start(self, timeout=30.0):
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        line = self._readline(timeout)
        if line.strip() != "ready":
            err = self.kill()
            raise AssertionError("chatter did not start: %r\n%s" % (line, err))
        return self

    def _readline(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                return ""
            return self.proc.stdout.readline()
        finally:
            sel.close()

    def phase(self, name):
        self.proc.stdin.write("phase %s\n" % name)
        self.proc.stdin.flush()

    def stop(self, timeout=30.0):
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        line = self._readline(timeout)
        try:
            return json.loads(line)
        except ValueError:
            err = self.kill()
            raise AssertionError("chatter gave no result: %r\n%s" % (line, err))
        finally:
            self.kill()

    def kill(self):
        if self.proc is None:
            return ""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            _, err = self.proc.communicate(timeout=5)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            err = ""
        self.proc = None
        return err or ""


def _chatter_main(port, nclients, nrooms, interval, prefix="n"):
    clients = []
    names = ["%s%03d" % (prefix, i) for i in range(nclients)]
    rooms = ["crowd%d" % (i % nrooms) for i in range(nclients)]
    for i in range(nclients):
        ws = wsclient.connect(port, rooms[i], names[i], source="127.0.0.1", timeout=10)
        clients.append(ws)
    # every client has its welcome; wait until every join notice has arrived
    for i, ws in enumerate(clients):
        w = ws.recv_json(10)
        if w.get("type") != "welcome" or w.get("username") != names[i]:
            raise SystemExit("bad welcome for %s: %r" % (names[i], w))
    members = {}
    for i in range(nclients):
        members.setdefault(rooms[i], []).append(i)
    for i, ws in enumerate(clients):
        later = [j for j in members[rooms[i]] if j >= i]
        for j in later:
            ws.expect(type="system", event="join", username=names[j], timeout=10)
    print("ready", flush=True)

    sel = selectors.DefaultSelector()
    for i, ws in enumerate(clients):
        sel.register(ws.sock, selectors.EVENT_READ, i)
    sel.register(sys.stdin, selectors.EVENT_READ, "ctl")
    phase = "start"
    lat = {}            # phase -> [latency ms]
    sent = [0] * nclients
    got = [dict() for _ in range(nclients)]  # receiver -> sender -> count
    last_id = [0] * nclients
    disorder = []
    disconnected = {}
    unexpected = {}
    t0 = time.monotonic()
    next_send = [t0 + interval * i / nclients for i in range(nclients)]
    stopping_at = None
    while True:
        now = time.monotonic()
        if stopping_at is None:
            for i in range(nclients):
                if now >= next_send[i] and i not in disconnected:
                    text = "%d|%d|%.6f|%s" % (i, sent[i], now, phase)
                    try:
                        clients[i].send_json({"type": "message", "text": text})
                        sent[i] += 1
                    except OSError as e:
                        disconnected[i] = "send: %s" % e
                    next_send[i] += interval
        elif now >= stopping_at:
            break
        elif all(sum(got[r].values()) >= sum(sent[s] for s in members[rooms[r]]) for r in range(nclients)
                 if r not in disconnected):
            break
        wait = max(0.0, min(next_send) - time.monotonic()) if stopping_at is None else 0.05
        for key, _ in sel.select(min(wait, 0.05)):
            if key.data == "ctl":
                line = sys.stdin.readline()
                if not line or line.strip() == "stop":
                    if stopping_at is None:
                        stopping_at = time.monotonic() + 5.0
                elif line.startswith("phase "):
                    phase = line.split(None, 1)[1].strip()
                continue
            i = key.data
            ws = clients[i]
            alive = ws.pump()
            for op, payload in ws.buffered_frames():
                if op != wsclient.OP_TEXT:
                    if op == wsclient.OP_CLOSE:
                        disconnected[i] = "close %r" % (payload,)
                    continue
                o = json.loads(payload)
                if o.get("type") != "message":
                    k = "%s:%s" % (o.get("type"), o.get("code") or o.get("event"))
                    if k not in ("system:join", "system:leave"):
                        unexpected[k] = unexpected.get(k, 0) + 1
                    continue
                recv_t = time.monotonic()
                s, _, rest = o["text"].partition("|")
                _, _, rest = rest.partition("|")
                ts, _, ph = rest.partition("|")
                lat.setdefault(ph, []).append((recv_t - float(ts)) * 1000.0)
                s = int(s)
                got[i][s] = got[i].get(s, 0) + 1
                if o["id"] <= last_id[i]:
                    disorder.append((i, last_id[i], o["id"]))
                last_id[i] = o["id"]
            if not alive and i not in disconnected:
                disconnected[i] = "eof"
                sel.unregister(ws.sock)
    lost = 0
    lost_detail = []
    for r in range(nclients):
        if r in disconnected:
            continue
        for s in members[rooms[r]]:
            missing = sent[s] - got[r].get(s, 0)
            if missing:
                lost += missing
                if len(lost_detail) < 10:
                    lost_detail.append((names[r], names[s], sent[s], got[r].get(s, 0)))
    for ph in list(lat):
        if ":" in ph:  # "abuse:flood" also counts in "abuse"
            lat.setdefault(ph.split(":", 1)[0], []).extend(lat[ph])
    phases = {}
    for ph, samples in lat.items():
        phases[ph] = {"n": len(samples), "p50": percentile(samples, 50), "p99": percentile(samples, 99),
                      "max": max(samples)}
    print(json.dumps({"phases": phases, "sent": sum(sent), "clients": nclients,
                      "disconnected": {names[i]: why for i, why in disconnected.items()}, "lost": lost,
                      "lost_detail": lost_detail, "disorder": disorder[:10], "unexpected": unexpected}), flush=True)
    for ws in clients:
        ws.close()


if __name__ == "__main__":
    if len(sys.argv) in (6, 7) and sys.argv[1] == "chatter":
        _chatter_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), *sys.argv[6:])
    else:
        print(__doc__)
