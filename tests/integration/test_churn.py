#!/usr/bin/python3
"""Connection churn: 10,000 connect/join/close cycles (after 500 to warm up),
mixing a clean close handshake, a TCP reset (SO_LINGER 0) after the join, and
aborts in the middle of the handshake (half a request line; a whole request
then gone before the answer). Afterwards the server must be back exactly where
it was: connections and rooms (/healthz and /metrics), ratelimit's
tracked_addresses (0 once its once-a-second sweep ran), the open fds of the
process, and its RSS within 2 MB. The cycles run 64 at a time from 60 source
addresses (127.0.0.2 and up), so the whole test takes a few seconds.
"""

import errno
import os
import selectors
import socket
import struct
import sys
import time
import unittest

SANITIZED = bool(os.environ.get("CHATD_SANITIZED"))  # tests/sanitize.sh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
from test_hostile_util import metrics, proc_fds, proc_rss_kb, wait_for  # noqa: E402
from wsclient import OP_CLOSE, build_frame  # noqa: E402

WARMUP = 500
CYCLES = 10000
PARALLEL = 64
SOURCES = ["127.0.0.%d" % (2 + i) for i in range(60)]
ROOMS = 20
RUN_DEADLINE_S = 50.0    # the 10,000 cycles must finish well within this
CYCLE_DEADLINE_S = 10.0
RSS_SLACK_KB = 2048

CLEAN, RESET, ABORT_EARLY, ABORT_LATE = range(4)
MODE_NAMES = ["clean", "reset", "abort_early", "abort_late"]


class Cycle:
    """One connection's life, driven by readiness events."""

    def __init__(self, port, i):
        self.i = i
        self.mode = i % 4
        self.port = port
        self.room = "churn%d" % (i % ROOMS)
        self.state = "connect"
        self.buf = b""
        self.deadline = time.monotonic() + CYCLE_DEADLINE_S
        self.status = None
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.bind((SOURCES[i % len(SOURCES)], 0))
        err = self.sock.connect_ex((chatdtest.HOST, port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))

    def request(self):
        key = "dGhlIHNhbXBsZSBub25jZQ=="
        return ("GET /ws/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (self.room, self.port, key)).encode()

    def reset(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def welcome_received(self):
        """The 101 and one whole frame (the welcome) after it are buffered."""
        head, sep, rest = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return False
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            raise AssertionError("cycle %d (%s): %r" % (self.i, MODE_NAMES[self.mode], head[:200]))
        if len(rest) < 2:
            return False
        n, pos = rest[1] & 0x7F, 2
        if n == 126:
            if len(rest) < 4:
                return False
            n, pos = struct.unpack("!H", rest[2:4])[0], 4
        elif n == 127:
            if len(rest) < 10:
                return False
            n, pos = struct.unpack("!Q", rest[2:10])[0], 10
        return len(rest) >= pos + n

    def step(self):
        """Advance on readiness; returns the events to wait for next, or None when done."""
        if self.state == "connect":
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, "cycle %d: connect: %s" % (self.i, os.strerror(err)))
            req = self.request()
            if self.mode == ABORT_EARLY:  # half a request line, then gone
                self.sock.send(req[:12])
                self.sock.close()
                return None
            self.sock.sendall(req)
            if self.mode == ABORT_LATE:  # the whole request, gone before the answer
                self.reset() if self.i % 8 == 3 else self.sock.close()
                return None
            self.state = "welcome"
            return selectors.EVENT_READ
        if self.state == "welcome":
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError("cycle %d: EOF before the welcome; got %r" % (self.i, self.buf[:200]))
            self.buf += data
            if not self.welcome_received():
                return selectors.EVENT_READ
            if self.mode == RESET:
                self.reset()
                return None
            self.sock.sendall(build_frame(OP_CLOSE, struct.pack("!H", 1000)))
            self.state = "closing"
            return selectors.EVENT_READ
        if self.state == "closing":  # read the close echo until the server ends the TCP connection
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if data:
                return selectors.EVENT_READ
            self.sock.close()
            return None
        raise AssertionError(self.state)


def churn(port, count, start=0):
    """Run count cycles, PARALLEL at a time. Returns seconds taken."""
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    deadline = t0 + RUN_DEADLINE_S
    started = done = 0
    live = set()

    def launch():
        nonlocal started
        c = Cycle(port, start + started)
        started += 1
        live.add(c)
        sel.register(c.sock, selectors.EVENT_WRITE, c)

    try:
        while started < count and len(live) < PARALLEL:
            launch()
        while live:
            now = time.monotonic()
            if now > deadline:
                raise AssertionError("churn: %d of %d cycles done in %.0f s" % (done, count, now - t0))
            for c in list(live):
                if now > c.deadline:
                    raise AssertionError("cycle %d (%s) stuck in %s; got %r"
                                         % (c.i, MODE_NAMES[c.mode], c.state, c.buf[:200]))
            for key, _ in sel.select(0.5):
                c = key.data
                sel.unregister(c.sock)
                nxt = c.step()
                if nxt is None:
                    live.discard(c)
                    done += 1
                    if started < count:
                        launch()
                else:
                    sel.register(c.sock, nxt, c)
        return time.monotonic() - t0
    finally:
        for c in live:
            try:
                c.sock.close()
            except OSError:
                pass
        sel.close()


class ChurnTest(chatdtest.ChatdTestCase):
    # ratelimit keeps per-address state; typing and privmsg keep per-client state
    config = {"server": {"handshake_timeout": 5}, "plugin ratelimit": {}, "plugin typing": {},
              "plugin privmsg": {}}
    server_kwargs = {"log_level": "notice"}

    def state(self):
        m = metrics(self.srv)
        _, h = self.srv.healthz()
        return {"connections": h["connections"], "rooms": h["rooms"], "chatd_connections": m["chatd_connections"],
                "chatd_rooms": m["chatd_rooms"], "tracked_addresses": m["ratelimit/tracked_addresses"],
                "fds": proc_fds(self.srv.pid)}

    def settle(self, want, timeout=8.0):
        """Wait until state() == want (the server finishes closes, ratelimit sweeps once a second)."""
        last = [None]

        def same():
            last[0] = self.state()
            return last[0] == want
        wait_for(same, timeout, 0.1)
        return last[0]

    def stable_fds(self, timeout=5.0):
        """The fd count once two reads 200 ms apart agree (every close handled)."""
        deadline = time.monotonic() + timeout
        prev = proc_fds(self.srv.pid)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            cur = proc_fds(self.srv.pid)
            if cur == prev:
                return cur
            prev = cur
        return prev

    def test_churn_returns_to_baseline(self):
        idle = {"connections": 0, "rooms": 0, "chatd_connections": 0, "chatd_rooms": 0, "tracked_addresses": 0}
        warm_s = churn(self.port, WARMUP)
        self.settle(dict(idle, fds=proc_fds(self.srv.pid)))
        base = dict(idle, fds=self.stable_fds())
        st = self.settle(base)
        self.assertEqual(st, base, "not idle after the warm-up")
        rss0 = proc_rss_kb(self.srv.pid)
        total0 = metrics(self.srv)["chatd_connections_total"]

        took = churn(self.port, CYCLES, start=WARMUP)

        after = self.settle(base)
        rss1 = proc_rss_kb(self.srv.pid)
        total1 = metrics(self.srv)["chatd_connections_total"]
        summary = ("warm-up %d cycles %.1f s; %d cycles in %.1f s (%.0f/s, %d parallel); baseline %r, RSS %d kB; "
                   "after %r, RSS %d kB (%+d kB); connections_total +%d"
                   % (WARMUP, warm_s, CYCLES, took, CYCLES / took, PARALLEL, base, rss0, after, rss1, rss1 - rss0,
                      total1 - total0))
        print("\n" + summary, file=sys.stderr)
        self.assertEqual(after, base, summary)
        if not SANITIZED:  # ASan's allocator and quarantine make RSS meaningless
            self.assertLessEqual(abs(rss1 - rss0), RSS_SLACK_KB, summary)
        # every clean and reset cycle (half of them) got a chat socket
        self.assertGreaterEqual(total1 - total0, CYCLES // 2, summary)
        self.assertLess(took, RUN_DEADLINE_S, summary)
        # and the server still serves
        ws, w = self.join("after-churn", "Survivor")
        ws.send_json({"text": "still here"})
        self.assertEqual(ws.expect(type="message").get("text"), "still here")


if __name__ == "__main__":
    unittest.main(verbosity=2)
