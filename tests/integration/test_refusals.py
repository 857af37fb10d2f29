#!/usr/bin/python3
"""Refused WebSocket handshakes, as client libraries nobody here wrote see them.

Every refusal (400 bad room, 404 not under /ws/, 403 origin, 429 ratelimit's
per-address cap, 503 shutting down) is a complete HTTP answer in the request's
version: `HTTP/1.1 <status> <phrase>`, `Content-Type: text/plain;
charset=utf-8`, the reason as the body (one line, then a newline), a matching
`Content-Length` and `Connection: close`; chatd logs each one at info with the
address, the path and the reason (docs/protocol.md, "Refused handshakes").

Driven by Python's `websockets` (Debian's python3-websockets 10.4): its usual
`websockets.connect()` must raise InvalidStatusCode with the status (before the
fix it raised InvalidMessage, "unsupported HTTP version: HTTP/1.0"), and its
Sans-I/O client must read the status, phrase and reason body. Node's `ws`
drives the same refusals in test_refusals_node.py. Skips (77) when the
websockets package is missing.
"""

import asyncio
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, HOST  # noqa: E402
from wsclient import WSClient  # noqa: E402

try:
    import websockets
    import websockets.client
    import websockets.exceptions
    import websockets.uri
    MISSING = None
except ImportError as e:  # the test needs the library, not a stand-in
    MISSING = "Python websockets is not installed (%s): apt-get install python3-websockets" % e

GOOD_ORIGIN = "http://good.example"
EVIL_ORIGIN = "http://evil.example"

# (name, path, origin, status, phrase, reason): the refusals one server can show
# without state; 429 and 503 need their own set-up (below).
CASES = [
    ("bad room", "/ws/bad%20room", None, 400, "Bad Request", "invalid room name"),
    ("not under /ws/", "/nows", None, 404, "Not Found", "no such endpoint"),
    ("origin", "/ws/lobby", EVIL_ORIGIN, 403, "Forbidden", "origin not allowed"),
]
CAP_CASE = ("per-address cap", "/ws/lobby", None, 429, "Too Many Requests", "too many connections from your address")
STOPPING_CASE = ("shutting down", "/ws/lobby", None, 503, "Service Unavailable", "server is shutting down")

CONFIG = {
    "plugin ratelimit": {"max_connections_per_address": 1},
    "plugin origin": {"allow": GOOD_ORIGIN, "allow_missing": "yes"},
}


def legacy_connect(url, origin=None):
    """websockets.connect() as most programs call it: returns the exception it raised
    (None when the handshake succeeded)."""
    async def go():
        try:
            async with websockets.connect(url, origin=origin, open_timeout=5, close_timeout=1):
                return None
        except Exception as e:  # noqa: BLE001 - the exception is the result
            return e
    return asyncio.run(go())


def sansio_connect(port, path, origin=None, timeout=5.0):
    """websockets' Sans-I/O client over a plain socket: returns its handshake
    exception (InvalidStatus carries the whole response, body included)."""
    cls = getattr(websockets.client, "ClientProtocol", None) or websockets.client.ClientConnection
    conn = cls(websockets.uri.parse_uri("ws://%s:%d%s" % (HOST, port, path)), origin=origin)
    conn.send_request(conn.connect())
    s = socket.create_connection((HOST, port), timeout=timeout)
    try:
        for data in conn.data_to_send():
            if data:
                s.sendall(data)
        deadline = time.monotonic() + timeout
        while conn.handshake_exc is None and conn.state.name == "CONNECTING":
            if time.monotonic() > deadline:
                raise AssertionError("no handshake answer within %.1fs" % timeout)
            chunk = s.recv(65536)
            if not chunk:
                conn.receive_eof()
                break
            conn.receive_data(chunk)
    finally:
        s.close()
    return conn.handshake_exc


def raw_refusal(port, path, origin=None, version="HTTP/1.1", timeout=5.0):
    """Send an upgrade request in `version`; returns (whole answer bytes, closed)
    where closed says the server ended the connection after it."""
    lines = ["GET %s %s" % (path, version), "Host: %s:%d" % (HOST, port), "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append("Origin: " + origin)
    s = socket.create_connection((HOST, port), timeout=timeout)
    data, closed = b"", False
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    finally:
        s.close()
    return data, closed


class RefusalAsserts:
    def assert_library_sees(self, port, case):
        name, path, origin, status, phrase, reason = case
        exc = legacy_connect("ws://%s:%d%s" % (HOST, port, path), origin)
        self.assertIsInstance(exc, websockets.exceptions.InvalidStatusCode, "%s: %r (cause %r)"
                              % (name, exc, getattr(exc, "__cause__", None)))
        self.assertEqual(exc.status_code, status, name)
        self.assertEqual(str(exc), "server rejected WebSocket connection: HTTP %d" % status)
        self.assertEqual(exc.headers.get("Content-Type"), "text/plain; charset=utf-8", name)
        exc = sansio_connect(port, path, origin)
        self.assertIsInstance(exc, websockets.exceptions.InvalidStatus, "%s: %r" % (name, exc))
        resp = exc.response
        self.assertEqual((resp.status_code, resp.reason_phrase, resp.body), (status, phrase, reason.encode() + b"\n"),
                         name)
        self.assertEqual(resp.headers["Connection"], "close", name)


class RefusalTest(ChatdTestCase, RefusalAsserts):
    config = CONFIG

    def test_refusals_read_by_python_websockets(self):
        for case in CASES:
            with self.subTest(case[0]):
                self.assert_library_sees(self.port, case)

    def test_refusal_is_whole_http11_answer_then_close(self):
        for name, path, origin, status, phrase, reason in CASES:
            with self.subTest(name):
                data, closed = raw_refusal(self.port, path, origin)
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                self.assertEqual(lines[0], "HTTP/1.1 %d %s" % (status, phrase))
                hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
                self.assertEqual(hdrs.get("content-type"), "text/plain; charset=utf-8")
                self.assertEqual(hdrs.get("connection"), "close")
                self.assertEqual(body, reason.encode() + b"\n")
                self.assertEqual(int(hdrs.get("content-length", -1)), len(body))
                self.assertTrue(closed, "the server kept the connection open after the refusal")

    def test_http10_request_gets_http10_answer(self):
        data, _ = raw_refusal(self.port, "/ws/bad%20room", version="HTTP/1.0")
        self.assertTrue(data.startswith(b"HTTP/1.0 400 Bad Request\r\n"), data[:80])

    def test_each_refusal_logged_at_info_with_address_and_reason(self):
        raw_refusal(self.port, "/ws/lobby", EVIL_ORIGIN)
        raw_refusal(self.port, "/ws/bad%20room")
        deadline = time.monotonic() + 2
        want = ["handshake from 127.0.0.1 for /ws/lobby refused: 403 origin not allowed",
                "handshake from 127.0.0.1 for /ws/bad room refused: 400 invalid room name"]
        while time.monotonic() < deadline and not all(w in self.srv.stderr() for w in want):
            time.sleep(0.05)
        log = self.srv.stderr()
        for w in want:
            self.assertIn("chatd info: " + w, log)
        self.assertNotIn("User code denied connection", log)

    def test_control_bytes_in_path_do_not_reach_the_log(self):
        raw_refusal(self.port, "/nows%1b[2Jforged%7f")
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and "forged" not in self.srv.stderr():
            time.sleep(0.05)
        log = self.srv.stderr()
        self.assertIn("for /nows [2Jforged  refused: 404", log)
        self.assertNotIn("\x1b", log)

    def test_per_address_cap_429(self):
        held = WSClient(self.port, "/ws/lobby")
        self.addCleanup(held.close)
        self.assertEqual(held.handshake().status, 101)
        self.assert_library_sees(self.port, CAP_CASE)


# A server whose shutdown a stuck reader can hold open (begin_stuck_shutdown).
STOPPING_CONFIG = {"server": {"max_message_bytes": "1M", "max_frame_bytes": "2M", "send_queue_bytes": "64M",
                              "send_queue_soft_bytes": "64M"}}


def begin_stuck_shutdown(test):
    """SIGTERM test.srv while a client that never reads holds the drain open (its
    1001 close frame cannot go out), so chatd answers handshakes with 503 for up
    to 1.5 s. Call test.srv.wait() afterwards."""
    stuck = WSClient(test.port, "/ws/lobby", rcvbuf=4096)
    test.addCleanup(stuck.close_socket)
    test.assertEqual(stuck.handshake().status, 101)
    writer = test.connect("lobby")
    text = "x" * (1000 * 1000)
    for _ in range(12):  # 12 MB for a socket that never reads: more than the kernel buffers
        writer.send_json({"type": "message", "text": text})
        writer.drain(timeout=0.05)
    time.sleep(0.3)
    test.srv.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    test.assertTrue(test.srv.alive(), "chatd stopped before the refusal could be tried")


class ShutdownRefusalTest(ChatdTestCase, RefusalAsserts):
    config = STOPPING_CONFIG

    def test_shutting_down_503(self):
        begin_stuck_shutdown(self)
        self.assert_library_sees(self.port, STOPPING_CASE)
        self.assertEqual(self.srv.wait(5), 0)


if __name__ == "__main__":
    if MISSING:
        print("SKIP: " + MISSING)
        sys.exit(77)
    unittest.main(verbosity=2)
