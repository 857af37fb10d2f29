#!/usr/bin/env python3
"""Integration: the privmsg plugin (plugins/privmsg) in a running chatd.

"/msg NAME text" (or "/w NAME text") goes to NAME wherever they are, as a
{"type":"private",...} frame, with the same frame as the sender's echo;
nothing reaches the room. See docs/plugins/privmsg.md.
"""

import os
import subprocess
import tempfile
import unittest

from chatdtest import CHATD, PLUGIN_DIR, TIME_SCALE, ChatdTestCase, main, write_config


class PrivmsgTest(ChatdTestCase):
    config = {"plugin privmsg": {}}

    def members(self, room, *names):
        """Join each name to room; every earlier member reads the later joins."""
        socks = []
        for name in names:
            ws, welcome = self.join(room, name)
            self.assertEqual(welcome["username"], name)
            for other in socks:
                other.expect(type="system", event="join", username=name)
            socks.append(ws)
        return socks

    def expect_private(self, ws, sender, receiver, text, client_id=None):
        p = ws.recv_json()
        self.assertEqual(p.get("type"), "private", p)
        want = ["from", "id", "text", "to", "ts", "type"] + (["client_id"] if client_id else [])
        self.assertEqual(sorted(p), sorted(want))
        self.assertEqual(p.get("client_id"), client_id)
        self.assertEqual((p["from"], p["to"], p["text"]), (sender, receiver, text))
        self.assertIsInstance(p["id"], int)
        self.assertIsInstance(p["ts"], int)
        return p

    def expect_error(self, ws, code, message=None):
        e = ws.recv_json()
        self.assertEqual(e.get("type"), "error", e)
        self.assertEqual(e["code"], code)
        if message is not None:
            self.assertEqual(e["message"], message)
        return e

    def test_reaches_a_user_in_another_room_and_not_the_room(self):
        a, c = self.members("p-main", "PmAlice", "PmCarol")
        (b,) = self.members("p-elsewhere", "PmBob")
        a.send_json({"type": "message", "text": "/msg pmbob hello there", "client_id": "c1"})
        got = self.expect_private(b, "PmAlice", "PmBob", "hello there")
        echo = self.expect_private(a, "PmAlice", "PmBob", "hello there", client_id="c1")
        # the sender's echo answers its message: same frame plus its client_id
        self.assertNotIn("client_id", got)
        self.assertEqual(dict(got, client_id="c1"), echo)
        c.expect_silence(0.3)  # nothing to the room
        a.expect_silence(0.05)  # one echo only
        # no room id was used
        c.send_json({"type": "message", "text": "room talk"})
        self.assertEqual(a.expect(type="message", text="room talk")["id"], 1)

    def test_tutorial_frame_shape(self):
        (a,) = self.members("p-tut", "TutAlice")
        (b,) = self.members("p-tut2", "TutBob")
        a.send_json({"text": "/msg TutBob hi", "username": "TutAlice"})
        self.expect_private(b, "TutAlice", "TutBob", "hi")
        self.expect_private(a, "TutAlice", "TutBob", "hi")

    def test_ids_strictly_increase(self):
        a, b = self.members("p-ids", "IdsA", "IdsB")
        ids = []
        for i in range(4):
            sender, receiver = (a, b) if i % 2 == 0 else (b, a)
            target = "idsb" if i % 2 == 0 else "IDSA"
            sender.send_json({"type": "message", "text": "/msg %s n%d" % (target, i)})
            ids.append(receiver.expect(type="private", text="n%d" % i)["id"])
            sender.expect(type="private", text="n%d" % i)
        self.assertEqual(ids, sorted(set(ids)))

    def test_names_fold_case_and_look_alikes(self):
        (alice, zed) = self.members("p-fold", "FoldAlice", "FoldZed")
        zed.send_json({"type": "message", "text": "/msg FOLDALICE hi"})
        self.expect_private(alice, "FoldZed", "FoldAlice", "hi")
        zed.send_json({"type": "message", "text": "/msg F\u043eldAlice cyrillic o"})
        self.expect_private(alice, "FoldZed", "FoldAlice", "cyrillic o")
        zed.expect(type="private", text="cyrillic o")
        zed.send_json({"type": "message", "text": "/msg FoldAlic hi"})
        self.expect_error(zed, "no_such_user", "no user named FoldAlic is connected")
        alice.expect_silence(0.2)

    def test_quoted_name_with_spaces(self):
        (a,) = self.members("p-quote", "Quote Sender")
        (ann,) = self.members("p-quote2", "Ann Leeq")
        a.send_json({"type": "message", "text": '/msg "ann leeq" hi Ann'})
        self.expect_private(ann, "Quote Sender", "Ann Leeq", "hi Ann")
        self.expect_private(a, "Quote Sender", "Ann Leeq", "hi Ann")
        a.send_json({"type": "message", "text": '/msg "ann leeq hi'})
        self.expect_error(a, "bad_request")

    def test_to_yourself_arrives_once(self):
        (a,) = self.members("p-self", "SelfA")
        a.send_json({"type": "message", "text": "/msg selfa memo"})
        self.expect_private(a, "SelfA", "SelfA", "memo")
        a.expect_silence(0.3)

    def test_w_alias(self):
        a, b = self.members("p-w", "WhA", "WhB")
        a.send_json({"type": "message", "text": "/w whb psst"})
        self.expect_private(b, "WhA", "WhB", "psst")

    def test_unknown_user(self):
        a, b = self.members("p-nobody", "NobA", "NobB")
        a.send_json({"type": "message", "text": "/msg nobody-here hello"})
        self.expect_error(a, "no_such_user", "no user named nobody-here is connected")
        b.expect_silence(0.2)
        a.send_json({"type": "message", "text": "still open"})
        a.expect(type="message", text="still open")

    def test_missing_name_or_text(self):
        a, b = self.members("p-bad", "BadA", "BadB")
        for text in ("/msg badb", "/msg badb    ", "/msg ", "/msg"):
            a.send_json({"type": "message", "text": text})
            e = self.expect_error(a, "bad_request")
            self.assertIn("usage: /msg NAME TEXT", e["message"])
        b.expect_silence(0.2)

    def test_counters_on_metrics(self):
        a, b = self.members("p-metrics", "MetPA", "MetPB")
        a.send_json({"type": "message", "text": "/msg metpb x"})
        b.expect(type="private")
        a.send_json({"type": "message", "text": "/msg nobody-at-all x"})
        a.expect(type="error", code="no_such_user")
        status, _, body = self.srv.get("/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        for name in ("sent", "no_such_user"):
            self.assertIn('chatd_plugin_counter{plugin="privmsg",name="%s"} ' % name, text)


class PrivmsgWithTypingTest(ChatdTestCase):
    config = {"plugin typing": {}, "plugin privmsg": {}}

    def test_private_message_ends_typing_in_the_room(self):
        a, _ = self.join("pt-room", "PtA")
        b, _ = self.join("pt-room", "PtB")
        a.expect(type="system", event="join", username="PtB")
        a.send_json({"type": "typing"})
        self.assertEqual(b.recv_json(), {"type": "typing", "room": "pt-room", "username": "PtA"})
        a.send_json({"type": "message", "text": "/msg ptb secret"})
        self.assertEqual(b.recv_json(), {"type": "typing", "room": "pt-room", "username": "PtA", "stopped": True})
        self.assertEqual(b.recv_json()["type"], "private")
        b.expect_silence(0.2)


class PrivmsgConfigTest(unittest.TestCase):
    def test_any_option_is_refused(self):
        with tempfile.TemporaryDirectory(prefix="chatd-privmsg-") as tmp:
            path = os.path.join(tmp, "chatd.conf")
            write_config(path, {"server": {}, "plugin privmsg": {"alias": "/t"}})
            p = subprocess.run([CHATD, "-t", "-c", path, "-P", PLUGIN_DIR], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10 * TIME_SCALE)
            out = p.stdout.decode("utf-8", "replace")
            self.assertEqual(p.returncode, 4, out)
            self.assertIn("chatd.conf:4: plugin privmsg: option 'alias': unknown option", out)


if __name__ == "__main__":
    main()
