"""Integration tests: the ratelimit plugin against a running chatd.

rate_limited error frames with retry_after_ms, close 1008 for a flooder while
a normal client (another address) keeps chatting, the per-address message
bucket, HTTP 429 from the per-address connection cap, the byte bucket, and
shadow mode. Clients use source addresses in 127.0.0.0/8 only.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402


def counter(srv, name, plugin="ratelimit"):
    """A plugin counter from /metrics (None when absent)."""
    status, _, body = srv.get("/metrics")
    assert status == 200, status
    m = re.search(r'^chatd_plugin_counter\{plugin="%s",name="%s"\} (-?\d+)$' % (plugin, name),
                  body.decode(), re.M)
    return int(m.group(1)) if m else None


def handshake(srv, source, room="general"):
    """An upgrade attempt from source; returns the WSClient (open when 101)."""
    ws = wsclient.WSClient(srv.port, wsclient.ws_path(room), source=source)
    ws.handshake()
    return ws


class RateLimitTest(chatdtest.ChatdTestCase):
    config = {
        "plugin ratelimit": {
            "messages_per_second": 2,
            "message_burst": 3,
            "address_messages_per_second": 2,
            "address_message_burst": 5,
            "flood_close_after": 5,
            "max_connections_per_address": 3,
        },
    }

    def say(self, ws, text):
        ws.send_json({"type": "message", "text": text})

    def test_burst_then_rate_limited_with_retry_after(self):
        ws, _ = self.join("burst", "Burst", source="127.0.0.3")
        for i in range(3):
            self.say(ws, "m%d" % i)
            ws.expect(type="message", text="m%d" % i)
        self.say(ws, "too soon")
        err = ws.recv_json()
        self.assertEqual(err["type"], "error", err)
        self.assertEqual(err["code"], "rate_limited", err)
        self.assertTrue(err["message"])
        # one token at 2/s: at most 500 ms away, at least 1
        self.assertGreaterEqual(err["retry_after_ms"], 1)
        self.assertLessEqual(err["retry_after_ms"], 500)
        time.sleep(err["retry_after_ms"] / 1000.0 + 0.05)
        self.say(ws, "after the wait")
        ws.expect(type="message", text="after the wait")

    def test_typing_and_other_frames_are_not_messages(self):
        ws, _ = self.join("frames", "Typist", source="127.0.0.4")
        for _ in range(10):
            ws.send_json({"type": "typing"})  # no typing plugin here: unknown_type, but not rate_limited
            answer = ws.recv_json()
            self.assertNotEqual(answer.get("code"), "rate_limited", answer)
            ws.send_json({"type": "who"})
            ws.expect(type="users")
        for i in range(3):
            self.say(ws, "m%d" % i)
            ws.expect(type="message", text="m%d" % i)

    def test_flooder_closed_1008_while_neighbour_keeps_chatting(self):
        bob, _ = self.join("flood", "Bob", source="127.0.0.2")
        mallory, _ = self.join("flood", "Mallory", source="127.0.0.5")
        bob.expect(type="system", event="join", username="Mallory")
        self.say(bob, "hello before")
        bob.expect(type="message", username="Bob", text="hello before")
        before = counter(self.srv, "flood_closed")
        # 30 messages in one burst: 3 pass, 5 are refused, then the close
        mallory.send_raw(b"".join(wsclient.build_frame(wsclient.OP_TEXT, '{"text":"flood %d"}' % i)
                                  for i in range(30)))
        self.say(bob, "hello during")
        bob.expect(type="message", username="Bob", text="hello during")
        errors = []
        while True:
            op, payload = mallory.recv_frame()
            if op == wsclient.OP_CLOSE:
                code, reason = payload
                break
            if op == wsclient.OP_TEXT and '"error"' in payload:
                errors.append(payload)
        self.assertEqual(code, 1008, mallory.history())
        self.assertEqual(reason, "rate limit")
        self.assertEqual(len(errors), 5, errors)
        self.assertTrue(all('"rate_limited"' in e and '"retry_after_ms"' in e for e in errors), errors)
        self.assertEqual(counter(self.srv, "flood_closed"), before + 1)
        # Bob is unaffected: he chats on, and saw only Mallory's accepted messages
        for i in range(2):
            time.sleep(0.55)  # a normal pace: within 2 messages per second
            self.say(bob, "hello after %d" % i)
            bob.expect(type="message", username="Bob", text="hello after %d" % i)
        seen = [f[1] for f in bob.seen if f[0] == wsclient.OP_TEXT]
        self.assertEqual(len([s for s in seen if "\"flood " in s and "\"message\"" in s]), 3, seen)
        self.assertFalse([s for s in seen if "rate_limited" in s], seen)

    def test_address_bucket_is_shared_across_connections(self):
        a, _ = self.join("shared", "Ann", source="127.0.0.6")
        b, _ = self.join("shared", "Abe", source="127.0.0.6")
        c, _ = self.join("shared", "Cid", source="127.0.0.8")
        for i in range(3):
            self.say(a, "a%d" % i)
            a.expect(type="message", text="a%d" % i)
        for i in range(2):
            self.say(b, "b%d" % i)
            b.expect(type="message", text="b%d" % i)
        self.say(b, "b2")  # Abe's own bucket has 1 left, the address's none
        err = b.expect(type="error")
        self.assertEqual(err["code"], "rate_limited")
        for i in range(3):  # another address is not affected
            self.say(c, "c%d" % i)
            c.expect(type="message", text="c%d" % i)

    def test_connection_cap_is_http_429_and_released_on_close(self):
        before = counter(self.srv, "refused_connections")
        open_ = [handshake(self.srv, "127.0.0.7") for _ in range(3)]
        for ws in open_:
            self.addCleanup(ws.close)
            self.assertEqual(ws.response.status, 101, ws.response)
        refused = handshake(self.srv, "127.0.0.7")
        self.assertEqual(refused.response.status, 429, refused.response)
        self.assertRegex(refused.response.status_line, r"^HTTP/1\.[01] 429")
        self.assertFalse(refused.open)
        self.assertEqual(counter(self.srv, "refused_connections"), before + 1)
        other = handshake(self.srv, "127.0.0.9")  # another address
        self.addCleanup(other.close)
        self.assertEqual(other.response.status, 101)
        open_[0].close(wait=1.0)
        deadline = time.monotonic() + 3.0
        while True:  # the server notices the close asynchronously
            again = handshake(self.srv, "127.0.0.7")
            self.addCleanup(again.close)
            if again.response.status == 101 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(again.response.status, 101, again.response)


class ByteLimitTest(chatdtest.ChatdTestCase):
    config = {"plugin ratelimit": {"bytes_per_second": 1000, "byte_burst": 2000}}

    def test_frames_over_the_byte_rate_are_refused(self):
        ws, _ = self.join("bytes", "Big", source="127.0.0.10")
        text = "x" * 1472
        frame = '{"type":"message","text":"%s"}' % text  # 1500 bytes
        self.assertEqual(len(frame), 1500)
        ws.send_text(frame)
        ws.expect(type="message", text=text)
        ws.send_text(frame)
        err = ws.expect(type="error")
        self.assertEqual(err["code"], "rate_limited")
        # 500 left, 1500 needed: 1000 bytes at 1000/s
        self.assertGreater(err["retry_after_ms"], 500)
        self.assertLessEqual(err["retry_after_ms"], 1000)
        self.assertEqual(counter(self.srv, "refused_bytes"), 1)
        self.assertEqual(counter(self.srv, "refused_messages"), 0)


class ShadowModeTest(chatdtest.ChatdTestCase):
    config = {
        "plugin ratelimit": {"mode": "shadow", "messages_per_second": 1, "message_burst": 1,
                             "max_connections_per_address": 1, "flood_close_after": 2},
    }

    def test_shadow_refuses_nothing_but_counts_and_logs(self):
        ws, _ = self.join("shadow", "Loud", source="127.0.0.11")
        for i in range(6):
            ws.send_json({"type": "message", "text": "s%d" % i})
            ws.expect(type="message", text="s%d" % i)
        second = handshake(self.srv, "127.0.0.11")  # over the cap of 1: let in
        self.addCleanup(second.close)
        self.assertEqual(second.response.status, 101)
        ws.expect_silence(0.2)
        self.assertEqual(counter(self.srv, "refused_messages"), 0)
        self.assertEqual(counter(self.srv, "refused_connections"), 0)
        self.assertEqual(counter(self.srv, "flood_closed"), 0)
        self.assertEqual(counter(self.srv, "shadow_would_refuse"), 5 + 1)
        log = self.srv.stderr()
        lines = [line for line in log.splitlines() if "would refuse" in line and "127.0.0.11" in line]
        self.assertEqual(len(lines), 1, log)  # one line per address per 10 s


if __name__ == "__main__":
    chatdtest.main()
