"""Integration tests: what the SDK gives CONNECT hooks and message hooks,
over real WebSocket upgrades (libwebsockets parses the request): headers lws
knows by name and custom ones, cookies, URL-decoded query arguments, a 401
whose reason comes from the request, names set and refused at CONNECT, the
NICK filter, and the answers to consumed and denied messages (client_id).
The plugin is tests/plugins/sdkprobe.so (see its header comment)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402

PROBE = os.path.join(chatdtest.TOP_BUILDDIR, "tests", "plugins", "sdkprobe.so")


class SdkRequestTest(chatdtest.ChatdTestCase):
    config = {"plugin sdkprobe": {"path": PROBE}}

    def open(self, query=None, headers=None, room="lab"):
        ws = wsclient.connect(self.port, path=wsclient.ws_path(room, query=query), headers=headers)
        self.addCleanup(ws.close)
        return ws

    def test_connect_sees_headers_cookies_and_query(self):
        ws = self.open(query=[("name", "Zoë Z"), ("token", "a+b c&d")],
                       headers={"X-Token": "secret-1", "Cookie": 'theme=dark; sid="s 42"',
                                "Authorization": "Bearer xyz"})
        self.assertEqual(ws.expect(type="welcome")["username"], "Zoë Z")
        seen = ws.expect(type="seen")
        self.assertTrue(seen["has_request"])
        self.assertEqual(seen["path"], "/ws/lab")
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["address"], "127.0.0.1")
        self.assertEqual(seen["token"], "a+b c&d")
        self.assertEqual(seen["xtoken"], "secret-1")
        self.assertEqual(seen["sid"], "s 42")
        self.assertEqual(seen["requested"], "Zoë Z")
        self.assertEqual(seen["name_at_connect"], "Zoë Z")

    def test_absent_things_are_null(self):
        ws = self.open()
        seen = ws.expect(type="seen")
        for key in ("token", "xtoken", "sid", "requested"):
            self.assertEqual(seen[key], "(null)", key)
        self.assertEqual(seen["name_at_connect"], "")

    def test_deny_with_status_and_reason_from_the_request(self):
        ws = wsclient.WSClient(self.port, wsclient.ws_path("lab", query={"deny": "1"}),
                               headers={"X-Reason": "token expired"})
        resp = ws.handshake()
        self.assertEqual(resp.status, 401)
        self.assertIn(b"token expired", resp.body)

    def test_set_name_and_refuse_name(self):
        ws = self.open(query={"name": "Zed"}, headers={"X-Set-Name": "Carol"})
        self.assertEqual(ws.expect(type="welcome")["username"], "Carol")
        ws2 = self.open(query={"name": "Root", "refuse": "1"})
        name = ws2.expect(type="welcome")["username"]
        self.assertTrue(name.startswith("guest-"), name)
        err = ws2.expect(type="error")
        self.assertEqual(err["code"], "reserved")
        self.assertEqual(err["message"], "that name is reserved; you are " + name)

    def test_nick_filter(self):
        ws = self.open(query={"name": "badger"})
        name = ws.expect(type="welcome")["username"]
        self.assertTrue(name.startswith("guest-"), name)
        self.assertEqual(ws.expect(type="error")["code"], "bad_name")
        ws.send_json({"type": "nick", "username": "Honey bad"})
        self.assertEqual(ws.expect(type="error")["code"], "bad_name")
        ws.send_json({"type": "nick", "username": "Honey"})
        self.assertEqual(ws.expect(type="system", event="rename")["username"], "Honey")

    def test_consumed_and_denied_messages_are_answered(self):
        ws = self.open(query={"name": "Ann"})
        other = self.open(query={"name": "Ben"})
        ws.expect(type="seen")
        other.expect(type="seen")
        ws.send_json({"type": "message", "text": "consume", "client_id": "k1"})
        self.assertEqual(ws.expect(type="ack"), {"type": "ack", "client_id": "k1", "room": "lab"})
        ws.send_json({"type": "message", "text": "reply", "client_id": "k2"})
        pong = ws.expect(type="pong")
        self.assertEqual(pong["client_id"], "k2")
        ws.send_json({"type": "message", "text": "deny", "client_id": "k3"})
        err = ws.expect(type="error")
        self.assertEqual((err["code"], err["client_id"]), ("probe_denied", "k3"))
        ws.send_json({"type": "message", "text": "x" * 5000, "client_id": "k4"})
        err = ws.expect(type="error")
        self.assertEqual((err["code"], err["client_id"]), ("too_large", "k4"))
        # the room saw none of it
        ws.send_json({"type": "message", "text": "visible", "client_id": "k5"})
        self.assertEqual(ws.expect(type="message")["client_id"], "k5")
        m = other.expect(type="message")
        self.assertEqual(m["text"], "visible")
        other.expect_silence(0.2)

    def test_set_text_refusals_never_reach_the_room(self):
        ws = self.open(query={"name": "Ann"})
        for what, code in (("empty", -2), ("space", -2), ("big", -3), ("utf8", -4)):
            ws.send_json({"type": "message", "text": "set:" + what})
            self.assertEqual(ws.expect(type="set_result")["r"], code, what)
            self.assertEqual(ws.expect(type="message")["text"], "set:" + what)
        self.assertNotIn("out of memory", self.srv.stderr())


if __name__ == "__main__":
    chatdtest.main()
