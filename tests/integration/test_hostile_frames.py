#!/usr/bin/python3
"""Hostile WebSocket framing, from 127.0.0.2 and up: lying lengths, messages at
and over max_frame_bytes, too many fragments, a stalled fragment, a ping flood,
reserved opcodes and RSV bits, binary frames, invalid UTF-8 (whole and split
across fragments) and the valid edge cases of UTF-8. After each abuse an
observer in the same room sees the abuser leave, keeps chatting, and a new
client is served."""

import itertools
import json
import os
import sys
import time
import unittest

SANITIZED = bool(os.environ.get("CHATD_SANITIZED"))  # tests/sanitize.sh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402
from test_hostile_util import proc_rss_kb  # noqa: E402
from wsclient import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, build_frame  # noqa: E402

MAX_FRAME = 8192
OVERHEAD = len(json.dumps({"text": ""}))           # {"text": ""} around the text
MAX_MESSAGE = MAX_FRAME - OVERHEAD                 # so a frame of exactly MAX_FRAME is delivered
MAX_FRAGMENTS = 64
FRAGMENT_TIMEOUT = 2

_rooms = itertools.count(1)
_sources = itertools.cycle(["127.0.0.%d" % i for i in range(2, 40)])


class FramesTest(chatdtest.ChatdTestCase):
    config = {"server": {"max_frame_bytes": MAX_FRAME, "max_message_bytes": MAX_MESSAGE,
                         "max_fragments": MAX_FRAGMENTS, "fragment_timeout": FRAGMENT_TIMEOUT,
                         "max_bad_frames": 20}}
    server_kwargs = {"log_level": "notice"}

    def setUp(self):
        self.room = "frames%d" % next(_rooms)

    def hostile(self, room=None):
        ws, _ = self.join(room or self.room, None, source=next(_sources))
        return ws

    def observer(self):
        ws, _ = self.join(self.room, None, source="127.0.0.1")
        return ws

    def say(self, ws, text):
        ws.send_json({"type": "message", "text": text})
        return ws.expect(type="message", text=text)

    def assert_server_serves(self):
        ws, _ = self.join("fresh%d" % next(_rooms), None, source=next(_sources))
        self.say(ws, "a new client is served")
        ws.close()

    def abuse(self, send, codes, timeout=3.0, allow_eof=False, answer_close=True):
        """send(ws) misbehaves; the server must close it with one of codes within
        timeout and everybody else carries on. With answer_close the client
        answers the close (RFC 6455) and the server must then end the TCP
        connection within 2 s; without, the client drops it itself (for frames
        refused on a header that announces more than was sent: see the RSV bug
        below). Returns (close code, seconds until the close)."""
        obs = self.observer()
        ws = self.hostile()
        ws.auto_close_reply = answer_close
        obs.expect(type="system", event="join")
        t0 = time.monotonic()
        send(ws)
        code, reason = ws.expect_close(timeout=timeout, allow_eof=allow_eof)
        took = time.monotonic() - t0
        if code is not None or not allow_eof:
            self.assertIn(code, codes, "close %r %r, want one of %r" % (code, reason, codes))
        if answer_close:
            with self.assertRaises(wsclient.WSClosed, msg="TCP still open 2 s after the close"):
                ws.recv_frame(2)
        ws.close_socket()
        obs.expect(type="system", event="leave")
        self.say(obs, "observer unaffected")
        self.assert_server_serves()
        return code, took

    # -- sizes --------------------------------------------------------------------

    def test_gigabyte_length_header_closes_1009_at_once(self):
        rss0 = proc_rss_kb(self.srv.pid)
        # the header announces 1 GiB; 16 bytes follow and nothing more
        code, took = self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"aaaaa"', length=1 << 30), (1009,),
                                answer_close=False)
        self.assertLess(took, 1.0, "closed only after %.2f s" % took)
        if not SANITIZED:  # ASan's allocator and quarantine make RSS meaningless
            self.assertLess(proc_rss_kb(self.srv.pid) - rss0, 8 * 1024, "the server allocated for the announced GiB")

    def test_gigabyte_continuation_closes_1009(self):
        def send(ws):
            ws.send_frame(OP_TEXT, b'{"text":"', fin=False)
            ws.send_frame(OP_CONT, b"aaaa", length=1 << 30)
        self.abuse(send, (1009,), answer_close=False)

    def test_one_byte_over_max_frame_bytes_closes_1009(self):
        body = json.dumps({"text": "a" * (MAX_MESSAGE + 1)}).encode()
        self.assertEqual(len(body), MAX_FRAME + 1)
        self.abuse(lambda ws: ws.send_frame(OP_TEXT, body), (1009,))

    def test_fragments_one_byte_over_max_frame_bytes_close_1009(self):
        body = json.dumps({"text": "a" * (MAX_MESSAGE + 1)}).encode()
        parts = [body[i:i + 1000] for i in range(0, len(body), 1000)]
        self.abuse(lambda ws: ws.send_fragments(parts), (1009,))

    def test_exactly_max_frame_bytes_is_delivered(self):
        obs = self.observer()
        ws = self.hostile()
        text = "b" * MAX_MESSAGE
        body = json.dumps({"text": text}).encode()
        self.assertEqual(len(body), MAX_FRAME)
        ws.send_frame(OP_TEXT, body)
        self.assertEqual(ws.expect(type="message").get("text"), text)
        self.assertEqual(obs.expect(type="message").get("text"), text)
        # and the same size in 8 fragments
        parts = [body[i:i + MAX_FRAME // 8] for i in range(0, MAX_FRAME, MAX_FRAME // 8)]
        ws.send_fragments(parts)
        self.assertEqual(ws.expect(type="message").get("text"), text)

    # -- fragments ----------------------------------------------------------------

    def test_65_fragments_close_1008(self):
        parts = [b'{"text":"'] + [b"f"] * (MAX_FRAGMENTS - 1) + [b'"}']
        self.assertEqual(len(parts), MAX_FRAGMENTS + 1)
        self.abuse(lambda ws: ws.send_fragments(parts), (1008,))

    def test_65_empty_fragments_close_1008(self):
        parts = [b'{"text":"x"}'] + [b""] * MAX_FRAGMENTS
        self.abuse(lambda ws: ws.send_fragments(parts), (1008,))

    def test_64_fragments_accepted(self):
        ws = self.hostile()
        parts = [b'{"text":"'] + [b"f"] * (MAX_FRAGMENTS - 2) + [b'"}']
        self.assertEqual(len(parts), MAX_FRAGMENTS)
        ws.send_fragments(parts)
        self.assertEqual(ws.expect(type="message").get("text"), "f" * (MAX_FRAGMENTS - 2))
        # the count starts again with the next message
        ws.send_fragments(parts)
        self.assertEqual(ws.expect(type="message").get("text"), "f" * (MAX_FRAGMENTS - 2))

    def test_stalled_fragment_closes_1008_at_fragment_timeout(self):
        code, took = self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"never finished', fin=False), (1008,),
                                timeout=FRAGMENT_TIMEOUT + 3)
        # checked once a second: between the timeout and a second and a half later
        self.assertGreaterEqual(took, FRAGMENT_TIMEOUT - 0.1)
        self.assertLess(took, FRAGMENT_TIMEOUT + 1.5, "closed after %.2f s" % took)

    def test_stalled_frame_payload_closes_1008_at_fragment_timeout(self):
        frame = build_frame(OP_TEXT, b'{"text":"half of this frame never comes"}')
        code, took = self.abuse(lambda ws: ws.send_raw(frame[:20]), (1008,), timeout=FRAGMENT_TIMEOUT + 3,
                                answer_close=False)  # the answer would be read as the missing payload
        self.assertLess(took, FRAGMENT_TIMEOUT + 1.5, "closed after %.2f s" % took)

    def test_trickled_fragments_do_not_outlive_fragment_timeout(self):
        # one fragment every 0.4 s keeps the socket busy but the message is
        # still not done at the timeout
        obs = self.observer()
        ws = self.hostile()
        obs.expect(type="system", event="join")
        ws.send_frame(OP_TEXT, b'{"text":"', fin=False)
        t0 = time.monotonic()
        code = None
        while time.monotonic() - t0 < FRAGMENT_TIMEOUT + 3:
            try:
                ws.send_frame(OP_CONT, b"t", fin=False)
            except OSError:
                break
            try:
                op, payload = ws.recv_frame(0.4)
            except wsclient.WSTimeout:
                continue
            if op == OP_CLOSE:
                code = payload[0]
                break
        took = time.monotonic() - t0
        self.assertEqual(code, 1008, "no close 1008 after %.1f s" % took)
        self.assertLess(took, FRAGMENT_TIMEOUT + 1.5)
        obs.expect(type="system", event="leave")

    # -- pings ----------------------------------------------------------------------

    def test_ping_flood_does_not_take_the_server(self):
        # libwebsockets 4.1.6 answers pings itself, and drops a ping while a pong
        # is pending, without telling the application: chatd cannot count them
        # (docs/reliability.md). The contract that can be held: no pong per ping,
        # and the flooder and everybody else are still served promptly.
        obs = self.observer()
        ws = self.hostile()
        obs.expect(type="system", event="join")
        flood = b"".join(build_frame(OP_PING, b"p" * 100) for _ in range(5000))
        t0 = time.monotonic()
        ws.send_raw(flood)
        ws.send_json({"type": "message", "text": "after the flood"})
        pongs, echo_at = 0, None
        while True:
            try:
                op, payload = ws.recv_frame(1.0)
            except wsclient.WSTimeout:
                break
            if op == OP_PONG:
                pongs += 1
            elif op == OP_TEXT and "after the flood" in payload:
                echo_at = time.monotonic() - t0
            elif op == OP_CLOSE:
                self.assertEqual(payload[0], 1008, payload)  # closing a flooder is fine too
                break
        print("\nping flood: 5000 pings (530 kB in one write): %d pongs, own message echoed after %s"
              % (pongs, "%.0f ms" % (echo_at * 1000) if echo_at is not None else "never"), file=sys.stderr)
        self.assertLess(pongs, 2500, "a pong for (nearly) every ping")
        if ws.close_received is None:
            self.assertIsNotNone(echo_at, "the flooder's own message never came back")
            self.assertLess(echo_at, 1.0)
        t1 = time.monotonic()
        self.say(obs, "others still served")
        self.assertLess(time.monotonic() - t1, 1.0)
        self.assert_server_serves()

    # -- opcodes and RSV bits -------------------------------------------------------------

    def test_reserved_opcodes_close_1002(self):
        for op in list(range(0x3, 0x8)) + list(range(0xB, 0x10)):
            with self.subTest(opcode=hex(op)):
                code, took = self.abuse(lambda ws: ws.send_frame(op, b"x"), (1002,))
                self.assertLess(took, 1.0)

    def test_rsv_bits_close_1002(self):
        # libwebsockets closes; what it sends is 1002 "rsv bits"
        for rsv in range(1, 8):
            for op in (OP_TEXT, OP_PING):
                with self.subTest(rsv=rsv, opcode=op):
                    ws = self.hostile()
                    ws.send_frame(op, b'{"text":"rsv"}', rsv=rsv)
                    code, _ = ws.expect_close(timeout=2)
                    self.assertEqual(code, 1002)
                    ws.close_socket()
        self.assert_server_serves()

    # SERVER BUG (test_errors.py calls it a known limit of libwebsockets 4.1.6
    # and skips it): after a frame with RSV bits set, libwebsockets sends close
    # 1002 "rsv bits"; when the client answers that close, as RFC 6455 5.5.1
    # requires, the server often does not end the TCP connection, and the
    # client stays a member of its room meanwhile (no leave notice). The rest
    # of the refused frame is still parsed, so the answer is taken for its
    # payload; the same hits a header announcing more than is sent (1 GiB:
    # 1 hang in ~14 tries here), which the tests above therefore do not answer. Measured over 12 tries each, frame written in one send():
    # RSV1 11/12 hung, RSV2 4/12, RSV3 8/12 (header and payload in two writes:
    # 0-1/12). Sent: c1 8e <mask> {"text":"rsv"} (RSV1); got 88 0a 03ea "rsv bits";
    # sent the masked close echo; no EOF within 2 s (it lingers ~30 s).
    # docs/protocol.md: protocol abuse ends the connection ("close").
    @unittest.expectedFailure
    def test_rsv_bits_connection_ends_and_leave_is_announced(self):
        obs = self.observer()
        for attempt in range(12):
            rsv = (4, 1)[attempt % 2]
            ws = self.hostile(self.room)
            obs.expect(type="system", event="join")
            ws.send_frame(OP_TEXT, b'{"text":"rsv"}', rsv=rsv)
            code, _ = ws.expect_close(timeout=2)  # the client answers the close
            self.assertEqual(code, 1002)
            with self.assertRaises(wsclient.WSClosed, msg="attempt %d, RSV bits %d: TCP still open 2 s after "
                                   "the close handshake" % (attempt, rsv)):
                ws.recv_frame(2)
            obs.expect(type="system", event="leave", timeout=1)
            ws.close_socket()

    # -- payload types ----------------------------------------------------------------

    def test_binary_frame_closes_1003(self):
        self.abuse(lambda ws: ws.send_binary(b'{"text":"binary"}'), (1003,))

    def test_binary_fragments_close_1003(self):
        self.abuse(lambda ws: ws.send_fragments([b'{"text":', b'"bin"}'], opcode=OP_BINARY), (1003,))

    INVALID_UTF8 = [
        ("bad byte", b"\xff"), ("lone continuation", b"\x80"), ("overlong slash", b"\xc0\xaf"),
        ("overlong NUL", b"\xc0\x80"), ("overlong 3-byte", b"\xe0\x80\xaf"), ("surrogate", b"\xed\xa0\x80"),
        ("above U+10FFFF", b"\xf4\x90\x80\x80"), ("5-byte form", b"\xf8\x88\x80\x80\x80"),
        ("truncated then ASCII", b"\xe2\x82x"), ("lead byte then ASCII", b"\xc3("),
    ]

    def test_invalid_utf8_closes_1007(self):
        for name, bad in self.INVALID_UTF8:
            with self.subTest(name):
                self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"' + bad + b'"}'), (1007,))

    def test_invalid_utf8_at_the_end_closes_1007(self):
        # a message that ends inside a character
        self.abuse(lambda ws: ws.send_frame(OP_TEXT, b'{"text":"x"}\xe2\x82'), (1007,))

    def test_invalid_utf8_split_across_fragments_closes_1007(self):
        cases = [("emoji cut, then a quote", [b'{"text":"\xf0\x9f', b'\x98"}']),
                 ("bad continuation in the next fragment", [b'{"text":"\xf0', b'\x28\x8c\xbc"}']),
                 ("surrogate split", [b'{"text":"\xed', b'\xa0\x80"}']),
                 ("truncated in the last fragment", [b'{"text":"ok"}', b"\xe2\x82"])]
        for name, parts in cases:
            with self.subTest(name):
                self.abuse(lambda ws: ws.send_fragments(parts), (1007,))

    def test_valid_utf8_edge_cases_accepted(self):
        ws = self.hostile()
        for text in ("\U0010FFFF", "\uFFFD", "\uFFFF", "\uD7FF\uE000", "\u0080\u07FF\u0800", "\U00010000",
                     "\U0001F600 \U0001F469\u200D\U0001F4BB", "\u00e9e\u0301"):
            with self.subTest(text=ascii(text)):
                self.assertEqual(self.say(ws, text)["text"], text)

    def test_multibyte_characters_split_across_fragments_accepted(self):
        ws = self.hostile()
        for ch in ("\U0001F600", "\U0010FFFF", "\u20ac", "\u00e9"):
            enc = ch.encode("utf-8")
            for cut in range(1, len(enc)):
                with self.subTest(char=ascii(ch), cut=cut):
                    text = "x%sy" % ch
                    ws.send_fragments([b'{"type":"message","text":"x' + enc[:cut], enc[cut:] + b'y"}'])
                    self.assertEqual(ws.expect(type="message").get("text"), text)
        # and one byte per fragment
        body = json.dumps({"text": "\U0001F600\u20ac"}, ensure_ascii=False).encode("utf-8")
        ws.send_fragments([body[i:i + 1] for i in range(len(body))])
        self.assertEqual(ws.expect(type="message").get("text"), "\U0001F600\u20ac")


if __name__ == "__main__":
    chatdtest.main()
