#!/usr/bin/env python3
"""Integration: the typing plugin (plugins/typing) in a running chatd.

{"type":"typing"} fans out to the other members of the room, throttled per
user, ended (with an optional "stopped":true notice) by a message, a room
switch, a disconnect or a rename. See docs/plugins/typing.md.
"""

import os
import subprocess
import tempfile
import time
import unittest

from chatdtest import CHATD, PLUGIN_DIR, ChatdTestCase, main, write_config

THROTTLE_MS = 400
TYPING = {"type": "typing"}


class TypingTest(ChatdTestCase):
    config = {"plugin typing": {"throttle_ms": THROTTLE_MS}}

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

    def expect_typing(self, ws, room, username, stopped=False):
        t = ws.recv_json()
        want = {"type": "typing", "room": room, "username": username}
        if stopped:
            want["stopped"] = True
        self.assertEqual(t, want)

    def test_fans_out_to_the_others_in_the_room_only(self):
        a, b, c = self.members("t-fan", "FanA", "FanB", "FanC")
        (d,) = self.members("t-fan-other", "FanD")
        a.send_json(TYPING)
        self.expect_typing(b, "t-fan", "FanA")
        self.expect_typing(c, "t-fan", "FanA")
        a.expect_silence(0.3)  # not to the sender, and no error
        d.expect_silence(0.1)  # not to another room
        b.expect_silence(0.1)

    def test_typing_is_not_a_room_message(self):
        a, b = self.members("t-nomsg", "NoMsgA", "NoMsgB")
        a.send_json(TYPING)
        self.expect_typing(b, "t-nomsg", "NoMsgA")
        time.sleep(THROTTLE_MS / 1000 + 0.1)  # no stop notice before the message
        b.send_json({"type": "message", "text": "first"})
        m = a.expect(type="message", text="first")
        self.assertEqual(m["id"], 1)  # the typing frame took no id

    def test_throttle_absorbs_repeats_inside_the_window(self):
        a, b = self.members("t-throttle", "ThrA", "ThrB")
        for _ in range(5):
            a.send_json(TYPING)
        self.expect_typing(b, "t-throttle", "ThrA")
        b.expect_silence(0.15)
        a.expect_silence(0.05)  # absorbed silently
        time.sleep(THROTTLE_MS / 1000)
        a.send_json(TYPING)
        self.expect_typing(b, "t-throttle", "ThrA")
        a.send_json(TYPING)
        b.expect_silence(0.15)

    def test_throttle_is_per_user(self):
        a, b, c = self.members("t-peruser", "PerA", "PerB", "PerC")
        a.send_json(TYPING)
        self.expect_typing(c, "t-peruser", "PerA")
        b.send_json(TYPING)
        self.expect_typing(c, "t-peruser", "PerB")

    def test_message_ends_typing_and_resets_the_throttle(self):
        a, b = self.members("t-msg", "MsgA", "MsgB")
        a.send_json(TYPING)
        self.expect_typing(b, "t-msg", "MsgA")
        a.send_json({"type": "message", "text": "done"})
        self.expect_typing(b, "t-msg", "MsgA", stopped=True)
        self.assertEqual(b.recv_json()["type"], "message")
        a.send_json(TYPING)  # inside the old window: out at once
        self.expect_typing(b, "t-msg", "MsgA")

    def test_room_switch_ends_typing(self):
        a, b = self.members("t-leave", "LeaveA", "LeaveB")
        (e,) = self.members("t-leave-new", "LeaveE")
        a.send_json(TYPING)
        self.expect_typing(b, "t-leave", "LeaveA")
        a.send_json({"type": "join", "room": "t-leave-new"})
        self.expect_typing(b, "t-leave", "LeaveA", stopped=True)
        b.expect(type="system", event="leave", username="LeaveA")
        e.expect(type="system", event="join", username="LeaveA")
        a.expect(type="system", event="join", username="LeaveA")
        a.send_json(TYPING)
        self.expect_typing(e, "t-leave-new", "LeaveA")
        b.expect_silence(0.2)

    def test_disconnect_ends_typing(self):
        a, b = self.members("t-gone", "GoneA", "GoneB")
        a.send_json(TYPING)
        self.expect_typing(b, "t-gone", "GoneA")
        a.close()
        self.expect_typing(b, "t-gone", "GoneA", stopped=True)
        b.expect(type="system", event="leave", username="GoneA")

    def test_rename_ends_typing_under_the_old_name(self):
        a, b = self.members("t-rename", "RenA", "RenB")
        a.send_json(TYPING)
        self.expect_typing(b, "t-rename", "RenA")
        a.send_json({"type": "nick", "username": "RenAlias"})
        b.expect(type="system", event="rename", username="RenAlias")
        self.expect_typing(b, "t-rename", "RenA", stopped=True)
        a.send_json(TYPING)
        self.expect_typing(b, "t-rename", "RenAlias")

    def test_counters_on_metrics(self):
        a, b = self.members("t-metrics", "MetA", "MetB")
        a.send_json(TYPING)
        a.send_json(TYPING)
        self.expect_typing(b, "t-metrics", "MetA")
        b.expect_silence(0.1)
        status, _, body = self.srv.get("/metrics")
        self.assertEqual(status, 200)
        text = body.decode()
        for name in ("sent", "throttled"):
            self.assertIn('chatd_plugin_counter{plugin="typing",name="%s"} ' % name, text)


class TypingConfigTest(unittest.TestCase):
    """Bad options stop chatd at start-up, naming file, line, plugin and option."""

    def check_config(self, body):
        with tempfile.TemporaryDirectory(prefix="chatd-typing-") as tmp:
            path = os.path.join(tmp, "chatd.conf")
            write_config(path, {"server": {}, "plugin typing": body})
            p = subprocess.run([CHATD, "-t", "-c", path, "-P", PLUGIN_DIR], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=10)
            return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_good_options_pass(self):
        for value in (100, 1000, 60000):
            rc, out = self.check_config({"throttle_ms": value})
            self.assertEqual(rc, 0, out)

    def test_bad_values_are_refused(self):
        for value in ("99", "60001", "fast", "-1", "1e3"):
            rc, out = self.check_config({"throttle_ms": value})
            self.assertEqual(rc, 4, out)
            self.assertIn("chatd.conf:4: plugin typing: option 'throttle_ms': must be an integer from 100 to 60000",
                          out)

    def test_unknown_key_is_refused(self):
        rc, out = self.check_config({"throttle_ms": 500, "throtle_ms": 500})
        self.assertEqual(rc, 4, out)
        self.assertIn("chatd.conf:5: plugin typing: option 'throtle_ms': unknown option", out)


if __name__ == "__main__":
    main()
