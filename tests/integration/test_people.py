#!/usr/bin/python3
"""People and sessions (docs/protocol.md, "Sessions and people"): the
connections of one ?session=KEY that ask for the same name are one person
(one name in welcome.users, who, user_count; a join notice when the first
enters, a leave notice when the last leaves); a reload within
presence_grace_ms does not flap presence; after it the leave comes and the
name is free; another session gets a variant; bad keys get HTTP 400; the
key is never echoed."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsclient  # noqa: E402
from chatdtest import TIME_SCALE, ChatdTestCase, uniq, session_key as key  # noqa: E402


# Long enough for a reload (close, then a new handshake) to fall inside it,
# also under valgrind.
GRACE_MS = 1000 * TIME_SCALE






class PeopleTest(ChatdTestCase):
    config = {"server": {"presence_grace_ms": GRACE_MS}}

    def tab(self, room, name, session, multi=False):
        """A connection of a session; returns (ws, welcome), own join notice not consumed."""
        query = {"session": session}
        if multi:
            query["multi"] = "1"
        ws = self.connect(room, name, query=query)
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome", w)
        return ws, w

    def assert_never_echoed(self, ws, secret):
        for op, payload in ws.seen:
            if isinstance(payload, str):
                self.assertNotIn(secret, payload)

    def test_bad_session_keys_are_refused_with_400(self):
        for bad in ("short", "x" * 129, "has space in it 1234", "ünïcödé-key-1234567"):
            ws = wsclient.WSClient(self.port, wsclient.ws_path(uniq("room"), "Bad", query={"session": bad}))
            with self.assertRaises(wsclient.HandshakeRefused) as cm:
                ws.handshake(raise_on_refusal=True)
            ws.close_socket()
            resp = cm.exception.response
            self.assertEqual(resp.status, 400, bad)
            self.assertIn(b"session must be 16 to 128 characters", resp.body, resp)

    def test_two_tabs_are_one_person(self):
        room, name, k = uniq("room"), uniq("Alice").capitalize(), key(uniq())
        obs, _ = self.join(room, uniq("Obs"))
        t1, w1 = self.tab(room, name, k)
        obs.expect(type="system", event="join", username=name)
        t2, w2 = self.tab(room, name.lower(), k)
        self.assertEqual(w2["username"], name)
        self.assertEqual(w2["user_count"], 2)
        self.assertEqual(len(w2["users"]), 2, w2)
        self.assertEqual(w2["users"].count(name), 1, w2)
        obs.expect_silence(0.3)  # no second join notice
        t2.send_json({"text": "from the second tab", "client_id": "c2"})
        m = t1.expect(type="message", text="from the second tab")
        self.assertEqual(m["username"], name)
        obs.send_json({"type": "who"})
        self.assertEqual(obs.expect(type="users")["user_count"], 2)
        # leaving (explicitly, so no grace) in one tab says nothing; in the last, the leave
        t1.send_json({"type": "leave"})
        t1.expect(type="left")
        obs.expect_silence(0.3)
        t2.send_json({"type": "leave"})
        obs.expect(type="system", event="leave", username=name)
        self.assert_never_echoed(t1, k)
        self.assert_never_echoed(t2, k)

    def test_reload_within_grace_does_not_flap(self):
        room, name, k = uniq("room"), uniq("Reloader"), key(uniq())
        obs, _ = self.join(room, uniq("Obs"))
        t1, _ = self.tab(room, name, k)
        obs.expect(type="system", event="join", username=name)
        t1.close()
        time.sleep(0.3)
        t2, w = self.tab(room, name, k)  # the reload
        self.assertEqual(w["username"], name)
        self.assertIn(name, w["users"])
        obs.expect_silence(GRACE_MS / 1000 + 0.5)  # neither a leave nor a join, also after the grace
        obs.send_json({"type": "who"})
        self.assertIn(name, obs.expect(type="users")["users"])

    def test_after_grace_the_leave_comes_and_the_name_is_free(self):
        room, name, k = uniq("room"), uniq("Goner"), key(uniq())
        obs, _ = self.join(room, uniq("Obs"))
        t1, _ = self.tab(room, name, k)
        obs.expect(type="system", event="join", username=name)
        t1.close()
        started = time.monotonic()
        # meanwhile the name is held: another session gets a variant
        other, w = self.tab(uniq("room"), name, key(uniq()))
        self.assertEqual(w["username"], name + "2")
        other.close()
        obs.expect(type="system", event="leave", username=name, timeout=GRACE_MS / 1000 + 3)
        waited = time.monotonic() - started
        self.assertGreater(waited, GRACE_MS / 1000 * 0.8, "the leave came before the grace period ended")
        again, w = self.tab(room, name, key(uniq()))
        self.assertEqual(w["username"], name, "the name is free again after the grace period")

    def test_another_session_gets_a_variant(self):
        room, name = uniq("room"), uniq("Shared")
        a, wa = self.tab(room, name, key(uniq()))
        b, wb = self.tab(room, name, key(uniq()))
        n, wn = self.join(room, name)  # no session at all
        self.assertEqual(wa["username"], name)
        self.assertEqual(wb["username"], name + "2")
        self.assertEqual(wn["username"], name + "3")

    def test_rename_renames_every_tab(self):
        room, k = uniq("room"), key(uniq())
        name, new = uniq("Before"), uniq("After")
        t1, _ = self.tab(room, name, k)
        t2, _ = self.tab(room, name, k)
        obs, _ = self.join(room, uniq("Obs"))
        t1.send_json({"type": "nick", "username": new})
        r = obs.expect(type="system", event="rename", username=new)
        self.assertEqual(r["old"], name)
        t2.expect(type="system", event="rename", username=new)
        obs.expect_silence(0.3)  # one notice for the person
        t2.send_json({"text": "renamed in the other tab"})
        self.assertEqual(obs.expect(type="message")["username"], new)


if __name__ == "__main__":
    unittest.main(verbosity=2)
