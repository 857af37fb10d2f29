#!/usr/bin/python3
"""PROTOCOL.md's error table, row by row: refused frames get an `error` and
keep the socket; abuse gets the stated close code; after each, the server
still serves a new client."""

import itertools
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, PLUGIN_DIR  # noqa: E402
import wsclient  # noqa: E402
from wsclient import OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, build_frame  # noqa: E402

_rooms = itertools.count(1)

MAX_MESSAGE = 4096
MAX_FRAME = 65536
MAX_FRAGMENTS = 64
MAX_BAD = 20


class ErrorsTest(ChatdTestCase):
    # the defaults, spelled out: the tests below depend on them
    config = {"server": {"max_message_bytes": MAX_MESSAGE, "max_frame_bytes": MAX_FRAME,
                         "max_fragments": MAX_FRAGMENTS, "max_bad_frames": MAX_BAD}}

    def setUp(self):
        self.room = "err%d" % next(_rooms)

    def client(self, name=None):
        ws, _ = self.join(self.room, name)
        return ws

    def assert_error(self, ws, code, sent):
        frame = ws.recv_json()
        self.assertEqual(frame.get("type"), "error", "sent %r, got %r" % (sent, frame))
        self.assertEqual(frame.get("code"), code, "sent %r, got %r" % (sent, frame))
        self.assertIsInstance(frame.get("message"), str)
        self.assertTrue(frame["message"], frame)

    def assert_still_open(self, ws, text="still open"):
        """The socket keeps working: a valid message comes back as a message."""
        ws.send_json({"type": "message", "text": text})
        m = ws.recv_json()
        self.assertEqual((m.get("type"), m.get("text")), ("message", text), m)

    def assert_server_serves(self):
        """A brand-new client can join and chat."""
        ws = self.connect("fresh%d" % next(_rooms))
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome")
        ws.expect(type="system", event="join")
        self.assert_still_open(ws, "new client ok")
        ws.close()

    def refuse(self, payloads, code):
        """Each payload (str or bytes, sent as one text frame) gets error `code`;
        a valid message afterwards still works, on the same socket."""
        ws = self.client()
        for p in payloads:
            with self.subTest(payload=p):
                ws.send_text(p)
                self.assert_error(ws, code, p)
                self.assert_still_open(ws)  # also resets the bad-frame counter
        self.assert_server_serves()

    def abuse(self, send, codes, allow_eof=False, timeout=None, answer_close=True):
        """send(ws) misbehaves; the server must close with one of `codes`
        (or, with allow_eof, drop the TCP connection). With answer_close the
        client answers the close as RFC 6455 wants and the server must then end
        the TCP connection within 2 s; without, the client drops the TCP
        connection itself. Either way an observer in the same room sees the
        leave, and a new client is still served."""
        observer = self.client()
        ws = self.client()
        ws.auto_close_reply = answer_close
        observer.expect(type="system", event="join")
        send(ws)
        code, reason = ws.expect_close(timeout=timeout, allow_eof=allow_eof)
        if code is not None or not allow_eof:
            self.assertIn(code, codes, "close code %r (%r), expected one of %r" % (code, reason, codes))
        if answer_close:
            # the server really dropped the socket: nothing after the close, then EOF
            try:
                extra = ws.recv_frame(2)
                self.fail("frame after the close: %r" % (extra,))
            except wsclient.WSClosed:
                pass
        ws.close_socket()
        observer.expect(type="system", event="leave")
        self.assert_still_open(observer, "observer unaffected")
        self.assert_server_serves()
        return code

    # -- refused frames: error, socket stays open ------------------------------

    def test_not_json(self):
        self.refuse(["hello", "{", '{"text": "a",}', "{'text': 'single quotes'}", '{"text":"a"} trailing',
                     "", " "], "bad_request")

    def test_not_an_object(self):
        self.refuse(["[1,2]", '"text"', "42", "null", "true", '[{"text":"a"}]'], "bad_request")

    def test_duplicate_keys(self):
        self.refuse(['{"text":"a","text":"b"}', '{"type":"message","type":"message","text":"a"}'], "bad_request")

    def test_wrong_field_types(self):
        self.refuse([json.dumps(p) for p in (
            {"text": 5}, {"text": ["a"]}, {"text": {"a": 1}}, {"text": True},
            {"type": 5, "text": "a"}, {"type": ["message"], "text": "a"},
            {"type": "message", "text": "a", "username": 7},
            {"type": "message", "text": "a", "client_id": 17},
            {"type": "nick", "username": 5}, {"type": "nick", "username": None},
            {"type": "join", "room": 5}, {"type": "join", "room": "okroom", "since": "12"},
            {"type": "join", "room": "okroom", "since": -1},
        )], "bad_request")

    def test_missing_required_fields(self):
        self.refuse([json.dumps(p) for p in ({"type": "message"}, {"username": "x"}, {}, {"type": "nick"},
                                             {"type": "join"})], "bad_request")

    def test_nul_and_overlong_client_id(self):
        self.refuse(['{"text":"a\\u0000b"}', json.dumps({"text": "a", "client_id": "c" * 65})], "bad_request")

    def test_client_id_of_64_bytes_accepted(self):
        ws = self.client()
        ws.send_json({"text": "a", "client_id": "c" * 64})
        self.assertEqual(ws.recv_json().get("client_id"), "c" * 64)

    def test_unknown_type(self):
        # typing and history belong to plugins that are not loaded here
        self.refuse([json.dumps({"type": t}) for t in ("dance", "MESSAGE", "typing", "history", "")],
                    "unknown_type")

    def test_empty_or_whitespace_text(self):
        self.refuse([json.dumps({"text": t}) for t in ("", " ", "   ", "\t\n\r ", "\n")], "bad_request")

    def test_invalid_nickname(self):
        ws = self.client()
        for name in ("", "   ", "x" * 33, "a\u0000b", "tab\there", "zero\u200bwidth", "rtl\u202eover"):
            with self.subTest(name=name):
                ws.send_json({"type": "nick", "username": name})
                self.assert_error(ws, "bad_request", name)
                self.assert_still_open(ws)

    def test_32_char_nickname_accepted(self):
        ws = self.client()
        name = "n" * 28 + "%04d" % next(_rooms)
        ws.send_json({"type": "nick", "username": name})
        self.assertEqual(ws.expect(type="system", event="rename").get("username"), name)

    def test_text_over_max_message_bytes(self):
        ws = self.client()
        for text in ("a" * (MAX_MESSAGE + 1), "é" * (MAX_MESSAGE // 2 + 1), "a" * (MAX_FRAME - 100)):
            with self.subTest(bytes=len(text.encode())):
                ws.send_json({"type": "message", "text": text})
                self.assert_error(ws, "too_large", "%d-byte text" % len(text.encode()))
                self.assert_still_open(ws)
        # the limit itself is fine, and it counts bytes, not characters
        for text in ("a" * MAX_MESSAGE, "é" * (MAX_MESSAGE // 2)):
            ws.send_json({"type": "message", "text": text})
            self.assertEqual(ws.recv_json().get("text"), text)
        self.assert_server_serves()

    def test_refused_frames_are_invisible_to_others(self):
        observer = self.client()
        ws = self.client()
        observer.expect(type="system", event="join")
        for p in ("junk", "[]", '{"type":"nope"}', '{"text":""}'):
            ws.send_text(p)
            ws.expect(type="error")
        ws.send_json({"text": "marker"})
        self.assertSubset({"type": "message", "text": "marker"}, observer.recv_json(),
                          "the observer saw something of the refused frames")

    # -- max_bad_frames ---------------------------------------------------------

    def test_bad_frames_in_a_row_close_1008(self):
        observer = self.client()
        ws = self.client()
        observer.expect(type="system", event="join")
        # MAX_BAD - 1 in a row, then a good frame resets the count
        for _ in range(MAX_BAD - 1):
            ws.send_text("garbage")
        for _ in range(MAX_BAD - 1):
            self.assert_error(ws, "bad_request", "garbage")
        self.assert_still_open(ws)
        # MAX_BAD in a row: each gets its error, then close 1008
        for _ in range(MAX_BAD):
            ws.send_text("garbage")
        self.assert_errors_then_close(ws, MAX_BAD)
        observer.expect(type="system", event="leave")
        self.assert_server_serves()

    def assert_errors_then_close(self, ws, count, timeout=None):
        errors = []
        while True:
            op, payload = ws.recv_frame(timeout)
            if op == OP_CLOSE:
                break
            self.assertEqual(json.loads(payload).get("type"), "error", payload)
            errors.append(json.loads(payload)["code"])
        self.assertEqual(payload[0], 1008, payload)
        self.assertEqual(len(errors), count, "each refused frame gets its error before the close: %r" % errors)

    # Regression: unknown types once reset the count of refused frames.
    # docs/protocol.md: "max_bad_frames refused frames in a row -> close 1008".
    def test_unknown_types_in_a_row_close_1008(self):
        ws = self.client()
        for i in range(MAX_BAD):
            ws.send_text('{"type":"nope"}' if i % 2 == 0 else "garbage")
        self.assert_errors_then_close(ws, MAX_BAD, timeout=2)

    # -- closes -----------------------------------------------------------------

    def test_frame_over_max_frame_bytes_closes_1009(self):
        body = json.dumps({"text": "a" * MAX_FRAME}).encode()
        self.abuse(lambda ws: ws.send_frame(OP_TEXT, body), (1009,), answer_close=False)

    def test_fragmented_message_over_max_frame_bytes_closes_1009(self):
        chunk = b"a" * (MAX_FRAME // 8)
        self.abuse(lambda ws: ws.send_fragments([b'{"text":"'] + [chunk] * 9 + [b'"}']), (1009,),
                   answer_close=False)

    def test_lying_length_closes_1009_without_waiting(self):
        # 2^40 bytes announced, 2 sent: refused on the header, not after a timeout
        # (the client then drops the TCP connection: answering the close is covered
        # by test_close_answer_after_refused_frame below)
        self.abuse(lambda ws: ws.send_frame(OP_TEXT, b"{}", length=1 << 40), (1009,), answer_close=False)

    def test_frame_at_max_frame_bytes_is_not_closed(self):
        ws = self.client()
        text = "a" * (MAX_FRAME - len(json.dumps({"text": ""})))
        body = json.dumps({"text": text}).encode()
        self.assertEqual(len(body), MAX_FRAME)
        ws.send_frame(OP_TEXT, body)
        self.assert_error(ws, "too_large", "a %d-byte frame" % MAX_FRAME)
        self.assert_still_open(ws)

    def test_invalid_utf8_closes_1007(self):
        for name, data in [("bad byte", b'{"text":"\xff"}'), ("overlong", b'{"text":"\xc0\xaf"}'),
                           ("surrogate", b'{"text":"\xed\xa0\x80"}'), ("truncated", b'{"text":"\xe2\x82"}'),
                           ("above U+10FFFF", b'{"text":"\xf4\x90\x80\x80"}')]:
            with self.subTest(name):
                self.abuse(lambda ws: ws.send_frame(OP_TEXT, data), (1007,))

    def test_invalid_utf8_across_fragments_closes_1007(self):
        self.abuse(lambda ws: ws.send_fragments([b'{"text":"\xe2\x82', b'x"}']), (1007,))

    def test_utf8_split_across_fragments_is_fine(self):
        ws = self.client()
        ws.send_fragments([b'{"text":"\xe2\x82', b'\xac"}'])
        self.assertEqual(ws.recv_json().get("text"), "\u20ac")

    def test_binary_frame_closes_1003(self):
        self.abuse(lambda ws: ws.send_binary(b'{"text":"hi"}'), (1003,))

    def test_too_many_fragments_closes_1008(self):
        parts = [b'{"text":"'] + [b"a"] * (MAX_FRAGMENTS - 1) + [b'"}']
        self.assertEqual(len(parts), MAX_FRAGMENTS + 1)
        self.abuse(lambda ws: ws.send_fragments(parts), (1008,))

    def test_max_fragments_is_fine(self):
        ws = self.client()
        parts = [b'{"text":"'] + [b"a"] * (MAX_FRAGMENTS - 2) + [b'"}']
        self.assertEqual(len(parts), MAX_FRAGMENTS)
        ws.send_fragments(parts)
        self.assertEqual(ws.recv_json().get("text"), "a" * (MAX_FRAGMENTS - 2))

    def test_ping_inside_fragmented_message(self):
        ws = self.client()
        ws.send_raw(build_frame(OP_TEXT, b'{"text":', fin=False) + build_frame(OP_PING, b"hi")
                    + build_frame(OP_CONT, b'"pinged"}'))
        # Both arrive; RFC 6455 does not order a pong against data frames (the
        # message may go out first: chatd writes queued frames before the loop
        # sleeps, lws writes its pong when the socket next reports writable).
        frames = [ws.recv_frame(), ws.recv_frame()]
        self.assertIn((OP_PONG, b"hi"), frames)
        texts = [json.loads(p).get("text") for op, p in frames if op == OP_TEXT]
        self.assertEqual(texts, ["pinged"])

    # Interpretation: PROTOCOL.md says "other protocol abuse: close 1008"; RFC 6455
    # names 1002 for frames that break the framing rules, which libwebsockets
    # sends. Either code is accepted for these (the connection must end).
    PROTOCOL_ERROR = (1002, 1008)

    def test_reserved_bits_close(self):
        for rsv in (4, 2, 1):  # RSV1, RSV2, RSV3: no extension is negotiated
            with self.subTest(rsv=rsv):
                self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"x"}', rsv=rsv), self.PROTOCOL_ERROR,
                           answer_close=False)

    # KNOWN LIMIT: after refusing a frame on its header (any RSV bit set: close
    # 1002 "rsv bits"; a length over max_frame_bytes: close 1009), the server
    # waits for the client's close answer but keeps parsing the rest of the
    # refused frame, so the answer is often never recognised: the TCP connection
    # then stays open ~30 s (libwebsockets' close timeout) and the client stays a
    # room member meanwhile (no leave notice). About half of the RSV attempts hang
    # (it depends on how the bytes arrive), hence 12 attempts. RFC 6455 7.1.1: after
    # sending and receiving a close the server MUST close the TCP connection; for
    # a frame it cannot parse past, it should close right after its close frame.
    # Wire: sent 0xC1 0x8C <mask> '{"text":"x"}' (RSV1|text, masked, 12 bytes);
    # got 0x88 0x0A 03EA "rsv bits"; sent 0x88 0x82 <mask> 03EA; no EOF within 1 s
    # (EOF after ~30 s). Bad opcodes, stray continuations, invalid UTF-8 and
    # binary frames all end the TCP connection at once after the answer.
    @unittest.skip("KNOWN LIMIT of libwebsockets 4.1.6, not fixable from the application: it hangs in about "
                   "half of the attempts, so it can neither pass nor be an expected failure; see docs/reliability.md")
    def test_close_answer_after_refused_frame(self):
        attempts = [("rsv", rsv) for rsv in (4, 2, 1)] * 4 + [("length", 1 << 40)] * 4
        for n, (kind, arg) in enumerate(attempts):
            ws = self.client()
            if kind == "rsv":
                ws.send_frame(OP_TEXT, b'{"text":"x"}', rsv=arg)
            else:
                ws.send_frame(OP_TEXT, b"{}", length=arg)
            code, _ = ws.expect_close()  # answered automatically
            self.assertIn(code, self.PROTOCOL_ERROR + (1009,))
            with self.assertRaises(wsclient.WSClosed, msg="attempt %d (%s %r): TCP still open 1 s after the "
                                   "close handshake" % (n, kind, arg)):
                ws.recv_frame(1)
            ws.close_socket()

    def test_reserved_opcode_close(self):
        self.abuse(lambda ws: ws.send_frame(0x3, b"x"), self.PROTOCOL_ERROR)

    def test_continuation_without_start_close(self):
        self.abuse(lambda ws: ws.send_frame(OP_CONT, b"x"), self.PROTOCOL_ERROR)

    def test_fragmented_control_frame_close(self):
        self.abuse(lambda ws: ws.send_frame(OP_PING, b"x", fin=False), self.PROTOCOL_ERROR)

    def test_oversized_control_frame_close(self):
        # a 126+ byte ping is illegal; the server may drop the TCP connection outright
        self.abuse(lambda ws: ws.send_frame(OP_PING, b"p" * 200), self.PROTOCOL_ERROR, allow_eof=True)

    # KNOWN LIMIT (libwebsockets 4.1.6, no API exposes the mask bit): an unmasked client frame is accepted and delivered as a room
    # message. RFC 6455 5.1: "The server MUST close the connection upon receiving
    # a frame that is not masked"; PROTOCOL.md: protocol abuse -> close.
    @unittest.expectedFailure
    def test_unmasked_frame_closes(self):
        self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"unmasked"}', mask=False), self.PROTOCOL_ERROR,
                   timeout=2)

    # KNOWN LIMIT (libwebsockets 4.1.6 answers pings itself, no callback): a ping flood is never closed: 5000 pings (100-byte payloads)
    # in one burst get pongs back (about 130, libwebsockets coalesces the rest)
    # and the socket stays open and usable; PROTOCOL.md says "ping flood ...
    # close 1008". (Interpretation: 5000 pings in one burst, far beyond any
    # keep-alive use, is a flood; no threshold is documented.)
    @unittest.expectedFailure
    def test_ping_flood_closes_1008(self):
        def flood(ws):
            ws.send_raw(b"".join(build_frame(OP_PING, b"p" * 100) for _ in range(5000)))
        self.abuse(flood, (1008,), timeout=3)

    def test_ping_answered(self):
        ws = self.client()
        ws.ping(b"are you there")
        self.assertEqual(ws.recv_frame(), (OP_PONG, b"are you there"))
        self.assert_still_open(ws)

    def test_client_close_is_echoed(self):
        observer = self.client()
        ws = self.client()
        observer.expect(type="system", event="join")
        ws.send_close(1000, "bye")
        self.assertEqual(ws.expect_close(), (1000, "bye"))
        observer.expect(type="system", event="leave")

    # -- handshake ----------------------------------------------------------------

    def test_invalid_room_in_url_is_400(self):
        for path in ("/ws/bad%20room", "/ws/" + "a" * 65, "/ws/", "/ws/a/b", "/ws/caf%C3%A9", "/ws/a+b",
                     "/ws/semi;colon", "/ws/%00", "/ws/a%2Fb"):
            with self.subTest(path=path):
                ws = wsclient.WSClient(self.port, path)
                resp = ws.handshake()
                self.assertEqual(resp.status, 400, "%s -> %s" % (path, resp.status_line))
                self.assertNotIn("sec-websocket-accept", resp.headers)
        self.assert_server_serves()

    def test_overlong_origin_header_is_400(self):
        resp = wsclient.WSClient(self.port, "/ws/general", headers={"Origin": "http://" + "o" * 2000}).handshake()
        self.assertEqual(resp.status, 400, resp.status_line)
        self.assert_server_serves()

    def test_handshake_on_other_path_not_upgraded(self):
        resp = wsclient.WSClient(self.port, "/chat/general").handshake()
        self.assertNotEqual(resp.status, 101)
        self.assertGreaterEqual(resp.status, 400)
        self.assert_server_serves()


class SmallLimitsTest(ChatdTestCase):
    """The [server] limits are really the ones applied (not built-in constants)."""
    config = {"server": {"max_message_bytes": 100, "max_frame_bytes": 1024, "max_fragments": 4,
                         "max_bad_frames": 3}}

    def test_limits_from_config(self):
        ws = self.connect("small")
        w = ws.recv_json()
        self.assertEqual(w["limits"]["max_message_bytes"], 100)
        ws.expect(type="system", event="join")
        ws.send_json({"text": "a" * 100})
        self.assertEqual(ws.recv_json().get("text"), "a" * 100)
        ws.send_json({"text": "a" * 101})
        self.assertSubset({"type": "error", "code": "too_large"}, ws.recv_json())
        ws.send_fragments([b'{"text":', b'"four', b' frag', b'ments"}'])
        self.assertEqual(ws.recv_json().get("text"), "four fragments")
        ws.send_fragments([b'{"text":', b'"five', b' frag', b'ments', b'"}'])
        self.assertEqual(ws.expect_close()[0], 1008)

    def test_frame_limit_from_config(self):
        ws = self.connect("small")
        ws.expect(type="system", event="join")
        ws.auto_close_reply = False
        ws.send_frame(OP_TEXT, json.dumps({"text": "a" * 1100}))
        self.assertEqual(ws.expect_close()[0], 1009)

    def test_bad_frame_limit_from_config(self):
        ws = self.connect("small")
        ws.expect(type="system", event="join")
        for _ in range(3):
            ws.send_text("junk")
        for _ in range(3):
            self.assertEqual(ws.recv_json().get("code"), "bad_request")
        self.assertEqual(ws.expect_close()[0], 1008)


class FragmentTimeoutTest(ChatdTestCase):
    """docs/config.md fragment_timeout: a fragmented (or trickled) message not
    finished in time closes the client with 1008 (the check runs once a second)."""
    config = {"server": {"fragment_timeout": 1}}

    def test_stalled_messages_close_1008(self):
        observer, _ = self.join("stall", None)
        fragmented, _ = self.join("stall", None)
        trickled, _ = self.join("stall", None)
        # the first fragment of a message, and never the rest
        fragmented.send_frame(OP_TEXT, b'{"text":"never', fin=False)
        # a frame announcing 100 bytes that sends 10
        frame = build_frame(OP_TEXT, b'{"text":"' + b"a" * 89 + b'"}')
        trickled.send_raw(frame[:6 + 10])
        for ws in (fragmented, trickled):
            code, reason = ws.expect_close(timeout=4)
            self.assertEqual(code, 1008, reason)
        observer.send_json({"text": "unaffected"})
        self.assertEqual(observer.expect(type="message").get("text"), "unaffected")

    def test_slow_but_timely_fragments_are_fine(self):
        ws, _ = self.join("timely", None)
        ws.send_frame(OP_TEXT, b'{"text":"a', fin=False)
        ws.expect_silence(0.3)
        ws.send_frame(OP_CONT, b'b"}')
        self.assertEqual(ws.recv_json().get("text"), "ab")


@unittest.skipUnless(os.path.exists(os.path.join(PLUGIN_DIR, "ratelimit", "ratelimit.so")),
                     "ratelimit plugin not built")
class RateLimitTest(ChatdTestCase):
    """PROTOCOL.md: rate limit exceeded -> error rate_limited with retry_after_ms;
    persistent flooding -> close 1008 (options from docs/plugins/ratelimit.md)."""
    config = {"plugin ratelimit": {"messages_per_second": 1, "message_burst": 3, "flood_close_after": 5}}

    def test_rate_limited_then_closed(self):
        observer, _ = self.join("rl", None)
        ws, _ = self.join("rl", None)
        observer.expect(type="system", event="join")
        for i in range(3):
            ws.send_json({"text": "burst %d" % i})
        for i in range(3):
            self.assertEqual(ws.expect(type="message").get("text"), "burst %d" % i)
        ws.send_json({"text": "one too many"})
        e = ws.recv_json()
        self.assertSubset({"type": "error", "code": "rate_limited"}, e)
        self.assertIsInstance(e.get("retry_after_ms"), int, e)
        self.assertGreater(e["retry_after_ms"], 0)
        try:  # the server may close before it has read them all
            ws.send_raw(b"".join(build_frame(OP_TEXT, json.dumps({"text": "flood %d" % i})) for i in range(10)))
        except OSError:
            pass
        code, _ = ws.expect_close()
        self.assertEqual(code, 1008)
        # nothing of the flood reached the room
        observer.expect(type="system", event="leave")
        ws2, _ = self.join("rl2", None)
        ws2.send_json({"text": "fine"})
        self.assertEqual(ws2.recv_json().get("text"), "fine")


if __name__ == "__main__":
    unittest.main(verbosity=2)
