#!/usr/bin/python3
"""Hostile JSON, from 127.0.0.2 and up: deep nesting, thousands of keys, numbers
out of range, NUL escapes, lone surrogates, trailing garbage, duplicate keys,
wrong types, 10 kB names. Each gets an `error` frame and the socket stays
open (a valid message afterwards is delivered); a client that only sends
garbage is closed with 1008 after max_bad_frames errors."""

import itertools
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402
from wsclient import OP_CLOSE, OP_TEXT, build_frame  # noqa: E402

MAX_BAD = 8
MAX_FRAME = 256 * 1024
_rooms = itertools.count(1)
_sources = itertools.cycle(["127.0.0.%d" % i for i in range(2, 40)])

DEEP = 16000
BIG_NAME = "N" * 10240

GARBAGE = [
    ("16,000 nested arrays", "[" * DEEP + "]" * DEEP),
    ("16,000 nested arrays, unclosed", "[" * DEEP),
    ("16,000 nested objects", '{"a":' * DEEP + "1" + "}" * DEEP),
    ("nesting inside a message", '{"text":"x","deep":' + "[" * DEEP + "]" * DEEP + "}"),
    ("2,000 keys, no text", "{" + ",".join('"k%d":%d' % (i, i) for i in range(2000)) + "}"),
    ("2,000 duplicate keys", "{" + ",".join('"text":"%d"' % i for i in range(2000)) + "}"),
    ("1e999999 as text", '{"text":1e999999}'),
    ("1e999999 beside text", '{"text":"a","n":1e999999}'),
    ("-1e999999", '{"text":"a","n":-1e999999}'),
    ("huge integer", '{"text":"a","n":123456789012345678901234567890}'),
    ("since 1e999999", '{"type":"join","room":"ok","since":1e999999}'),
    ("NaN", '{"text":"a","n":NaN}'),
    ("Infinity", '{"text":"a","n":Infinity}'),
    ("NUL in text", '{"text":"a\\u0000b"}'),
    ("NUL in username", '{"text":"a","username":"x\\u0000y"}'),
    ("NUL in nick", '{"type":"nick","username":"\\u0000"}'),
    ("NUL in type", '{"type":"message\\u0000","text":"a"}'),
    ("NUL in room", '{"type":"join","room":"ok\\u0000x"}'),
    ("NUL in client_id", '{"text":"a","client_id":"c\\u0000"}'),
    ("NUL in a key", '{"te\\u0000xt":"a"}'),
    ("lone high surrogate", '{"text":"\\ud800"}'),
    ("lone low surrogate", '{"text":"\\udc00x"}'),
    ("bad escape", '{"text":"\\x41"}'),
    ("raw control character", '{"text":"a\x01b"}'),
    ("trailing garbage", '{"text":"a"}xyz'),
    ("two objects", '{"text":"a"}{"text":"b"}'),
    ("trailing comma", '{"text":"a",}'),
    ("comment", '{"text":"a"} // hi'),
    ("single quotes", "{'text':'a'}"),
    ("unquoted key", '{text:"a"}'),
    ("duplicate text", '{"text":"a","text":"b"}'),
    ("duplicate type", '{"type":"message","type":"nick","text":"a","username":"b"}'),
    ("text: number", '{"text":5}'),
    ("text: array", '{"text":["a"]}'),
    ("text: object", '{"text":{"a":1}}'),
    ("text: true", '{"text":true}'),
    ("type: number", '{"type":1,"text":"a"}'),
    ("type: null and text null", '{"type":null,"text":null}'),
    ("username: number", '{"text":"a","username":7}'),
    ("client_id: object", '{"text":"a","client_id":{}}'),
    ("nick username: array", '{"type":"nick","username":["a"]}'),
    ("join room: number", '{"type":"join","room":5}'),
    ("join since: string", '{"type":"join","room":"ok","since":"1"}'),
    ("join since: negative", '{"type":"join","room":"ok","since":-1}'),
    ("join since: float", '{"type":"join","room":"ok","since":1.5}'),
    ("top level array", '[{"text":"a"}]'),
    ("top level string", '"text"'),
    ("top level null", "null"),
    ("empty", ""),
    ("BOM", "\ufeff{\"text\":\"a\"}"),
    ("10 kB nick", json.dumps({"type": "nick", "username": BIG_NAME})),
    # the username of a message is a rename request: refused, and the message
    # itself still goes out under the old name (see ALSO_A_MESSAGE)
    ("10 kB username", json.dumps({"text": "a", "username": BIG_NAME})),
    ("10 kB client_id", json.dumps({"text": "a", "client_id": "c" * 10240})),
    ("10 kB type", json.dumps({"type": "t" * 10240})),
]
ALSO_A_MESSAGE = {"10 kB username": "a"}
# frames that are refused but also deliver a message (which resets the
# bad-frame count); an unknown type counts as a bad frame
NOT_PURE_GARBAGE = set(ALSO_A_MESSAGE)


class JsonTest(chatdtest.ChatdTestCase):
    config = {"server": {"max_bad_frames": MAX_BAD, "max_frame_bytes": MAX_FRAME}}
    server_kwargs = {"log_level": "notice"}

    def client(self, name=None):
        ws, _ = self.join("json%d" % next(_rooms), name, source=next(_sources))
        return ws

    def assert_open(self, ws, tag):
        ws.send_json({"type": "message", "text": "ok after " + tag[:40]})
        m = ws.recv_json()
        self.assertEqual((m.get("type"), m.get("text")), ("message", "ok after " + tag[:40]), m)

    def test_each_gets_an_error_and_the_socket_stays_open(self):
        ws = self.client()
        slow = []
        for name, payload in GARBAGE:
            with self.subTest(name):
                t0 = time.monotonic()
                ws.send_text(payload)
                e = ws.recv_json()
                took = time.monotonic() - t0
                self.assertEqual(e.get("type"), "error", "%s -> %r" % (name, e))
                self.assertIn(e.get("code"), ("bad_request", "unknown_type", "too_large"), e)
                self.assertTrue(e.get("message"), e)
                if took > 0.05:
                    slow.append((name, round(took * 1000)))
                if name in ALSO_A_MESSAGE:
                    m = ws.recv_json()
                    self.assertEqual((m.get("type"), m.get("text")), ("message", ALSO_A_MESSAGE[name]), m)
                    self.assertTrue(m["username"].startswith("guest-"), "renamed by a refused name: %r" % m)
                self.assert_open(ws, name)
        self.assertEqual([n for n, ms in slow if ms > 500], [], "slow refusals (ms): %r" % slow)

    def test_garbage_is_invisible_to_the_room(self):
        ws = self.client()
        room = ws.seen[0][1]
        obs, _ = self.join(json.loads(room)["room"], None, source="127.0.0.1")
        ws.expect(type="system", event="join")
        for name, payload in GARBAGE[:40]:
            ws.send_text(payload)
            ws.expect(type="error")
            self.assert_open(ws, name)
        for name, _ in GARBAGE[:40]:
            m = obs.recv_json()
            self.assertEqual((m.get("type"), m.get("text")), ("message", "ok after " + name[:40]), m)

    def test_many_keys_with_a_text_are_a_message(self):
        ws = self.client()
        obj = {"k%d" % i: i for i in range(2000)}
        obj["text"] = "two thousand keys"
        ws.send_json(obj)
        self.assertEqual(ws.expect(type="message").get("text"), "two thousand keys")

    def test_10k_name_in_nick_keeps_the_old_name(self):
        ws, w = self.join("json%d" % next(_rooms), "Keeper", source=next(_sources))
        ws.send_json({"type": "nick", "username": BIG_NAME})
        e = ws.recv_json()
        self.assertEqual((e.get("type"), e.get("code")), ("error", "bad_request"), e)
        ws.send_json({"text": "who am I"})
        self.assertEqual(ws.expect(type="message").get("username"), "Keeper")

    def query_name(self, length):
        """Connect with ?name= of `length` bytes: the contract wants a guest and
        a bad_request right after the welcome."""
        ws = wsclient.WSClient(self.port, wsclient.ws_path("json%d" % next(_rooms), "Q" * length),
                               source=next(_sources))
        self.addCleanup(ws.close)
        try:
            resp = ws.handshake()
        except wsclient.WSClosed as e:
            self.fail("?name= of %d bytes: connection dropped without an HTTP answer (%s)" % (length, e))
        self.assertEqual(resp.status, 101, "?name= of %d bytes: %s" % (length, resp.status_line))
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome", w)
        self.assertTrue(w["username"].startswith("guest-"), w)
        ws.send_json({"type": "who"})
        frames = []
        while True:
            f = ws.recv_json()
            if f.get("type") == "users":
                break
            frames.append(f)
        errors = [f for f in frames if f.get("type") == "error"]
        self.assertEqual([e.get("code") for e in errors], ["bad_request"],
                         "?name= of %d bytes: no bad_request after the welcome: %r" % (length, frames))
        self.assert_open(ws, "long query name")

    def test_long_query_name_gets_guest_and_bad_request(self):
        self.query_name(100)
        self.query_name(500)

    # Regression: a ?name= over ~515 bytes was once dropped silently (too small a copy buffer).
    def test_1k_query_name_gets_bad_request(self):
        self.query_name(1000)

    # SERVER BUG: a 10 kB ?name= gets no HTTP answer at all: libwebsockets runs
    # out of header space ("[lws] Ran out of header data space" in the log,
    # default max_http_header_data 4096) and drops the socket. Sent: GET
    # /ws/room?name=(10240 x N) with an upgrade; got: EOF, 0 bytes. PROTOCOL.md:
    # refusals at the handshake get a real HTTP status, not a dropped socket;
    # docs/protocol.md: a bad ?name= connects as a guest with bad_request (or, at
    # the least, 414/431 for a request too large to read).
    @unittest.expectedFailure
    def test_10k_query_name_gets_an_answer(self):
        self.query_name(10240)

    def test_garbage_only_client_closed_1008_after_max_bad_frames(self):
        obs, w = self.join("json%d" % next(_rooms), None, source="127.0.0.1")
        ws, _ = self.join(w["room"], None, source=next(_sources))
        obs.expect(type="system", event="join")
        burst = [p for n, p in GARBAGE if n not in NOT_PURE_GARBAGE] * 2
        try:
            ws.send_raw(b"".join(build_frame(OP_TEXT, p.encode("utf-8")) for p in burst))
        except OSError:
            pass
        errors = []
        while True:
            op, payload = ws.recv_frame(5)
            if op == OP_CLOSE:
                break
            self.assertEqual(op, OP_TEXT)
            errors.append(json.loads(payload).get("type"))
        self.assertEqual(payload[0], 1008, payload)
        self.assertEqual(errors, ["error"] * MAX_BAD, "each refused frame gets its error, then the close")
        obs.expect(type="system", event="leave")
        self.assertEqual([f for f in obs.seen if f[0] == OP_TEXT and json.loads(f[1]).get("type") == "message"], [])

    def test_server_still_serves(self):
        for name, payload in GARBAGE:  # each on a fresh connection, one after the other
            ws = wsclient.connect(self.port, "json-burst", source="127.0.0.3")
            try:
                ws.send_text(payload)
                ws.expect(type="error")
            finally:
                ws.close()
        ws = self.client()
        self.assert_open(ws, "the end")


if __name__ == "__main__":
    chatdtest.main()
