#!/usr/bin/python3
"""Hostile handshakes, from 127.0.0.2 and up.

- With the origin plugin: bad origins (another host, `null`, look-alike hosts,
  the wrong port or scheme) get a real HTTP 403 and no upgrade; a handshake
  without Origin follows allow_missing.
- Slowloris with handshake_timeout = 2: silent sockets, sockets that trickle one
  byte of a request every 500 ms, and 100 kB request headers, all open at once;
  each must be closed by the handshake deadline, while a normal client (from
  127.0.0.1) still connects and gets its welcome in under 100 ms.
"""

import os
import selectors
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402
from test_hostile_util import metrics, percentile  # noqa: E402
from wsclient import WSClient, ws_path  # noqa: E402

ALLOWED = "http://localhost:8000"

BAD_ORIGINS = [
    "http://evil.example",
    "null",
    "http://localhost.evil.com:8000",       # look-alike: a suffix
    "http://evil.com/localhost:8000",       # look-alike: a path
    "http://localhost:8000@evil.com",       # look-alike: user info
    "http://l0calhost:8000",                # look-alike: a zero
    "http://xn--lcalhost-9wa:8000",         # look-alike: punycode
    "http://localhost:8001",                # wrong port
    "http://localhost",                     # default port 80, not 8000
    "https://localhost:8000",               # wrong scheme
    "http://localhost:8000/",               # a trailing slash is not an origin
    "http://localhost:8000 http://evil.example",
    "http://localhost:8000, http://evil.example",
    "ws://localhost:8000",
    "file://",
    "*",
    "http://localhost:8000\tx",
]


def upgrade(port, source, origin=None, room="general"):
    headers = {} if origin is None else {"Origin": origin}
    ws = WSClient(port, ws_path(room), source=source, headers=headers)
    resp = ws.handshake()
    return ws, resp


class OriginTest(chatdtest.ChatdTestCase):
    config = {"plugin origin": {"allow": ALLOWED, "allow_missing": "yes"}}
    server_kwargs = {"log_level": "notice"}

    def test_bad_origins_get_403(self):
        refused0 = metrics(self.srv)["origin/refused"]
        for i, origin in enumerate(BAD_ORIGINS):
            with self.subTest(origin=origin):
                ws, resp = upgrade(self.port, "127.0.0.%d" % (2 + i % 5), origin)
                self.assertEqual(resp.status, 403, "%r -> %s" % (origin, resp.status_line))
                self.assertNotIn("sec-websocket-accept", resp.headers)
                self.assertIsNone(ws.sock, "the socket must not stay open as a WebSocket")
        self.assertEqual(metrics(self.srv)["origin/refused"] - refused0, len(BAD_ORIGINS))
        self.assertEqual(self.srv.healthz()[1]["connections"], 0, "a refused handshake left a connection")

    def test_allowed_origin_and_case_are_upgraded(self):
        for origin in (ALLOWED, "HTTP://LOCALHOST:8000"):
            with self.subTest(origin=origin):
                ws, resp = upgrade(self.port, "127.0.0.2", origin)
                self.assertEqual(resp.status, 101, resp)
                self.assertEqual(ws.recv_json().get("type"), "welcome")
                ws.close()

    def test_missing_origin_allowed(self):
        ws, resp = upgrade(self.port, "127.0.0.3")
        self.assertEqual(resp.status, 101, resp)
        self.assertEqual(ws.recv_json().get("type"), "welcome")
        ws.close()

    def test_refusals_do_not_hurt_others(self):
        friend, _ = self.join("origin-friends", "Friend", headers={"Origin": ALLOWED})
        for origin in BAD_ORIGINS * 3:
            upgrade(self.port, "127.0.0.4", origin, room="origin-friends")
        friend.send_json({"text": "still here"})
        self.assertEqual(friend.expect(type="message").get("text"), "still here")
        # none of the refused handshakes joined the room
        friend.send_json({"type": "who"})
        self.assertEqual(friend.expect(type="users").get("users"), ["Friend"])


    # SERVER BUG: an Origin header that is present but empty ("Origin: ") is
    # taken for a missing one (src/ws.c: lws_hdr_copy() > 0), so with
    # allow_missing = yes it is upgraded (101). docs/plugins/origin.md: only
    # "No Origin header" falls under allow_missing; an Origin must be
    # scheme://host[:port] and "anything like that is refused" (403). Low impact
    # (browsers never send an empty Origin), but it is the same class of gap the
    # "too long to copy" check in ws_filter() closes.
    @unittest.expectedFailure
    def test_empty_origin_is_not_a_missing_one(self):
        ws, resp = upgrade(self.port, "127.0.0.5", "")
        ws.close()
        self.assertEqual(resp.status, 403, resp)


class OriginNoMissingTest(chatdtest.ChatdTestCase):
    config = {"plugin origin": {"allow": ALLOWED, "allow_missing": "no"}}
    server_kwargs = {"log_level": "notice"}

    def test_missing_origin_refused_403(self):
        ws, resp = upgrade(self.port, "127.0.0.2")
        self.assertEqual(resp.status, 403, resp)
        self.assertNotIn("sec-websocket-accept", resp.headers)
        self.assertGreaterEqual(metrics(self.srv)["origin/missing_origin"], 1)

    def test_bad_origins_still_403_and_good_one_101(self):
        for origin in ("null", "http://evil.example", "http://localhost:8001"):
            with self.subTest(origin=origin):
                self.assertEqual(upgrade(self.port, "127.0.0.3", origin)[1].status, 403)
        ws, resp = upgrade(self.port, "127.0.0.3", ALLOWED)
        self.assertEqual(resp.status, 101, resp)
        ws.close()


# -- slowloris -----------------------------------------------------------------------

HANDSHAKE_TIMEOUT = 2
SILENT = 30
TRICKLE = 30
BIG = 3
BIG_HEADER = 100 * 1024
WATCH_S = HANDSHAKE_TIMEOUT + 1.5      # how long the attack is watched
NORMAL_EVERY_S = 0.2
NORMAL_BOUND_MS = 100.0


class Slowloris:
    """The attack: every socket open at once, driven from one loop that also
    notes when the server ends each one (EOF, reset or an HTTP answer)."""

    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.socks = {}   # sock -> dict(kind, opened, closed, answer, sent)
        self.request = ("GET /ws/loris HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Slow: " % port).encode() + b"z" * 4000

    def open(self, kind, n, first_source):
        for i in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.%d" % (first_source + i % 3), 0))
            s.connect((chatdtest.HOST, self.port))
            s.setblocking(False)
            info = {"kind": kind, "opened": time.monotonic(), "closed": None, "answer": b"", "sent": 0}
            self.socks[s] = info
            self.sel.register(s, selectors.EVENT_READ, info)
            if kind == "big":
                head = (b"GET /ws/loris HTTP/1.1\r\nHost: x\r\n"
                        + b"".join(b"X-Big-%05d: %s\r\n" % (k, b"b" * 90) for k in range(BIG_HEADER // 100)))
                try:
                    s.sendall(head)  # non-blocking: may stop early if the server stops reading
                except OSError:
                    pass

    def trickle(self):
        for s, info in self.socks.items():
            if info["kind"] == "trickle" and info["closed"] is None:
                try:
                    s.send(self.request[info["sent"]:info["sent"] + 1])
                    info["sent"] += 1
                except OSError:
                    pass

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            s, info = key.fileobj, key.data
            try:
                data = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if data:
                info["answer"] += data
                continue
            info["closed"] = time.monotonic()
            self.sel.unregister(s)

    def close(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.sel.close()

    def closed_after(self, kind):
        """Seconds from open to the server's close, per socket (None: still open)."""
        return [None if i["closed"] is None else i["closed"] - i["opened"]
                for i in self.socks.values() if i["kind"] == kind]


class SlowlorisTest(chatdtest.ChatdTestCase):
    config = {"server": {"handshake_timeout": HANDSHAKE_TIMEOUT}}
    server_kwargs = {"log_level": "notice"}

    @classmethod
    def setUpClass(cls):
        """Run the attack once (WATCH_S seconds); the tests look at what happened."""
        super().setUpClass()
        attack = Slowloris(cls.port)
        cls.normal_ms = []
        cls.normal_errors = []
        try:
            attack.open("silent", SILENT, 2)
            attack.open("trickle", TRICKLE, 5)
            attack.open("big", BIG, 8)
            t0 = time.monotonic()
            next_trickle = next_normal = t0
            k = 0
            while time.monotonic() - t0 < WATCH_S:
                now = time.monotonic()
                if now >= next_trickle:
                    attack.trickle()
                    next_trickle += 0.5
                if now >= next_normal:
                    next_normal += NORMAL_EVERY_S
                    k += 1
                    c0 = time.monotonic()
                    try:
                        ws = wsclient.connect(cls.port, "normal", "Normal%d" % k, source="127.0.0.1", timeout=3)
                        ws.recv_json()
                        cls.normal_ms.append((time.monotonic() - c0) * 1000)
                        ws.close()
                    except AssertionError as e:
                        cls.normal_errors.append(str(e)[:200])
                attack.poll(max(0.0, min(next_trickle, next_normal) - time.monotonic()))
            cls.silent = attack.closed_after("silent")
            cls.trickled = attack.closed_after("trickle")
            cls.big = attack.closed_after("big")
            cls.big_answers = [i["answer"][:40] for i in attack.socks.values() if i["kind"] == "big"]
        finally:
            attack.close()

        def fmt(xs):
            closed = [x for x in xs if x is not None]
            return "%d/%d closed%s" % (len(closed), len(xs), (", at %.2f..%.2f s" % (min(closed), max(closed)))
                                       if closed else "")
        print("\nslowloris (handshake_timeout %d s, watched %.1f s): silent %s; trickle %s; 100 kB header %s; "
              "normal clients: %d connects, welcome after median %.1f / max %.1f ms, %d errors"
              % (HANDSHAKE_TIMEOUT, WATCH_S, fmt(cls.silent), fmt(cls.trickled), fmt(cls.big), len(cls.normal_ms),
                 percentile(cls.normal_ms, 50) or -1, max(cls.normal_ms or [-1]), len(cls.normal_errors)),
              file=sys.stderr)

    def test_normal_client_connects_fast_during_the_attack(self):
        self.assertEqual(self.normal_errors, [])
        self.assertGreaterEqual(len(self.normal_ms), int(WATCH_S / NORMAL_EVERY_S) - 3)
        # the median must be under the bound; a scheduler hiccup on a busy
        # 2-core machine may hit one sample, not a tenth of them
        self.assertLess(percentile(self.normal_ms, 50), NORMAL_BOUND_MS, self.normal_ms)
        self.assertLess(percentile(self.normal_ms, 90), NORMAL_BOUND_MS, self.normal_ms)
        self.assertLess(max(self.normal_ms), 1000.0, self.normal_ms)

    def test_oversized_header_closed_by_the_deadline(self):
        for took, answer in zip(self.big, self.big_answers):
            self.assertIsNotNone(took, "a 100 kB header is still open after %.1f s" % WATCH_S)
            self.assertLess(took, HANDSHAKE_TIMEOUT + 1.0)
            # no upgrade, whatever the answer (libwebsockets just closes)
            self.assertFalse(answer.startswith(b"HTTP/1.1 101"), answer)

    # Regression: handshake_timeout once bounded nothing here (libwebsockets'
    # own 10 s header-buffer and 30 s timeouts applied); chatd now sets the
    # deadline on every new socket and lws's header-buffer idle timeout.
    def test_silent_and_trickling_sockets_closed_at_the_deadline(self):
        for kind, times in (("silent", self.silent), ("trickle", self.trickled)):
            for took in times:
                self.assertIsNotNone(took, "a %s socket is still open %.1f s after it connected (handshake_timeout "
                                     "%d s)" % (kind, WATCH_S, HANDSHAKE_TIMEOUT))
                self.assertGreaterEqual(took, HANDSHAKE_TIMEOUT - 0.2)

    def test_server_healthy_after_the_attack(self):
        ws, w = self.join("after-loris", "After")
        ws.send_json({"text": "fine"})
        self.assertEqual(ws.expect(type="message").get("text"), "fine")
        self.assertEqual(self.srv.healthz()[0], 200)


if __name__ == "__main__":
    chatdtest.main()
