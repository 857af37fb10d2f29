#!/usr/bin/python3
"""The tutorial's own client (its chat.html, unchanged) must work: it connects
to /ws/{room} with no ?name=, sends {"username":..,"text":..} and renders
`message` of system frames and `username`/`text` of the others. These tests
speak its wire shapes and need nothing from outside this repository; the page
itself, served by chatd, is test_seed_page.py (needs SEED_CHAT_HTML)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase  # noqa: E402


class SeedClientTest(ChatdTestCase):

    def tutorial_client(self, room):
        """What chat.html does: new WebSocket(`ws://host/ws/${room}`), no name."""
        ws = self.connect(room)
        self.addCleanup(self.check_renderable, ws)
        return ws

    def check_renderable(self, ws):
        """Every frame the tutorial client got must render: system frames by
        their `message`, every other frame by `username` and `text`."""
        import json
        for op, payload in ws.seen:
            if op != 1:
                continue
            data = json.loads(payload)
            if data.get("type") == "system":
                self.assertIsInstance(data.get("message"), str, data)
                self.assertTrue(data["message"].strip(), data)
            elif data.get("type") == "message":
                self.assertIsInstance(data.get("username"), str, data)
                self.assertIsInstance(data.get("text"), str, data)

    def test_two_tutorial_clients_chat(self):
        room = "general"
        a = self.tutorial_client(room)
        a_name = a.expect(type="welcome")["username"]
        j = a.expect(type="system", event="join")
        self.assertIn(a_name, j["message"])
        b = self.tutorial_client(room)
        b.expect(type="welcome")
        jb = a.expect(type="system")  # a sees b arrive, as text it can show
        self.assertIsInstance(jb.get("message"), str)
        self.assertTrue(jb["message"].endswith("joined the chat"), jb)

        # exactly what sendMessage() sends: JSON.stringify({ username, text })
        a.send_text('{"username":"User","text":"hi"}')
        first = {"a": [a.expect(type="message")], "b": [b.expect(type="message")]}  # a's is handled first
        b.send_text('{"username":"User","text":"hello"}')
        got = {}
        for name, ws in (("a", a), ("b", b)):
            msgs = first[name] + [ws.expect(type="message")]
            got[name] = msgs
            for m in msgs:
                self.assertEqual(m["type"], "message")
                self.assertIsInstance(m["username"], str)
                self.assertIsInstance(m["text"], str)
            self.assertEqual(sorted(m["text"] for m in msgs), ["hello", "hi"])
        by_text = {m["text"]: m["username"] for m in got["a"]}
        self.assertEqual(by_text["hi"], "User", "the first to ask gets the name")
        # the second "User" gets a variant: nobody posts as somebody else
        self.assertNotEqual(by_text["hello"].lower(), "user")
        self.assertTrue(by_text["hello"].startswith("User"), by_text)
        self.assertEqual({m["text"]: m["username"] for m in got["b"]}, by_text)

        # the tutorial client repeats its username on every message: no new rename
        a.send_text('{"username":"User","text":"again"}')
        m = b.expect(type="message")
        self.assertEqual((m["username"], m["text"]), ("User", "again"))

        # a tab closed: the other one is told with a `message` it can show
        a.close_socket()  # no close frame at all
        leave = b.expect(type="system", event="leave")
        self.assertIsInstance(leave.get("message"), str)
        self.assertIn("User", leave["message"])
        self.assertTrue(leave["message"].endswith("left the chat"), leave)

    def test_close_frame_gives_leave_message(self):
        a = self.tutorial_client("lounge")
        a.expect(type="system", event="join")
        b = self.tutorial_client("lounge")
        b_name = b.expect(type="welcome")["username"]
        a.expect(type="system", event="join", username=b_name)
        b.close(1001, "", wait=2)  # what a browser sends when the page goes away (ws.close())
        leave = a.expect(type="system", event="leave")
        self.assertIn(b_name, leave["message"])

    def test_message_without_username_field(self):
        # the seed server falls back to "Anonymous"; chatd uses the connection's name
        a = self.tutorial_client("quiet")
        name = a.expect(type="welcome")["username"]
        a.send_text('{"text":"no name given"}')
        m = a.expect(type="message")
        self.assertEqual((m["username"], m["text"]), (name, "no name given"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
