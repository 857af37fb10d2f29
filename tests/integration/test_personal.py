#!/usr/bin/python3
"""Unread state and direct messages over real sockets (docs/protocol.md,
"Read positions and conversations"): the private frame reaches every tab of
both people and is stored privately; read positions are forward only, every
tab is told, a reload keeps the counts; only the two people read a
conversation back (a third session with the same name cannot)."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import TIME_SCALE, ChatdTestCase, uniq, session_key as key  # noqa: E402







class PersonalTest(ChatdTestCase):
    config = {"server": {"presence_grace_ms": 0},
              "plugin privmsg": {},
              "plugin history": {"commit_delay": 0, "replay": 0}}

    def tab(self, room, name, session):
        """A multi-room connection of a session, its welcome consumed; returns (ws, welcome)."""
        query = {"multi": "1"}
        if session:
            query["session"] = session
        ws = self.connect(room, name, query=query)
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome", w)
        return ws, w

    def tab_as(self, room, name, session, wait=3.0):
        """A tab that gets exactly `name` once the server has seen that name's
        last connection close (its close is processed a little after the
        close handshake)."""
        deadline = time.monotonic() + wait * TIME_SCALE
        while True:
            ws, w = self.tab(room, name, session)
            if w["username"] == name or time.monotonic() > deadline:
                self.assertEqual(w["username"], name)
                return ws, w
            ws.close()
            time.sleep(0.05)

    def test_private_messages_reach_every_tab_and_read_back_only_by_the_two(self):
        room = uniq("room")
        alice, bob = uniq("Alice"), uniq("Bob")
        ka, kb = key(uniq()), key(uniq())
        a1, _ = self.tab(room, alice, ka)
        a2, _ = self.tab(uniq("room"), alice, ka)
        b1, _ = self.tab(room, bob, kb)
        b2, _ = self.tab(uniq("room"), bob, kb)
        a1.send_json({"type": "private", "to": bob.upper(), "text": "hello there", "client_id": "p1"})
        echo = a1.expect(type="private", client_id="p1")
        self.assertEqual((echo["from"], echo["to"], echo["text"]), (alice, bob, "hello there"))
        for ws in (a2, b1, b2):
            m = ws.expect(type="private", text="hello there")
            self.assertNotIn("client_id", m)
            self.assertEqual(m["id"], echo["id"])
        b2.send_json({"type": "message", "text": "/msg %s and back" % alice})
        a1.expect(type="private", text="and back")
        a2.expect(type="private", text="and back")
        for ws, other in ((a1, bob), (b1, alice)):
            ws.send_json({"type": "history", "dm": other})
            h = ws.expect(type="history", dm=other)
            self.assertEqual([m["text"] for m in h["messages"]], ["hello there", "and back"])
            self.assertTrue(all(m.get("history") is True and m["type"] == "private" for m in h["messages"]))
        # the room heard nothing
        for ws in (a1, b1):
            for op, payload in ws.drain(0.2):
                self.assertNotIn('"type":"message"', payload)
        # Bob goes; another session takes his name: it reads nothing back
        for ws in (b1, b2):
            ws.close()
            ws.expect_close(allow_eof=True)
        impostor, w = self.tab_as(room, bob, key(uniq()))
        dms = impostor.expect(type="dms")  # sent on its first join
        self.assertEqual(dms["conversations"], [])
        impostor.send_json({"type": "history", "dm": alice})
        self.assertEqual(impostor.expect(type="history")["messages"], [])
        impostor.close()
        impostor.expect_close(allow_eof=True)
        # the real Bob, back: his conversation, with what he has not read
        back, _ = self.tab_as(room, bob, kb)
        dms = back.expect(type="dms")
        self.assertEqual([(c["with"], c["unread"]) for c in dms["conversations"]], [(alice, 1)])

    def test_read_positions_every_tab_forward_only_and_kept_over_a_reload(self):
        room, me, k = uniq("room"), uniq("Reader"), key(uniq())
        other, _ = self.join(room, uniq("Other"))
        for i in range(3):
            other.send_json({"text": "before %d" % i, "client_id": "b%d" % i})
            other.expect(type="message", client_id="b%d" % i)
        t1, _ = self.tab(room, me, k)
        first = t1.expect(type="read", room=room)
        self.assertEqual((first["id"], first["unread"], first["mentions"]), (3, 0, 0))  # a first visit
        t2, _ = self.tab(room, me, k)
        t2.expect(type="read", room=room)
        texts = ["plain news", "hey %s, look" % me.lower(), "un%s is no mention" % me.lower(), "more"]
        for i, text in enumerate(texts):
            other.send_json({"text": text, "client_id": "n%d" % i})
            other.expect(type="message", client_id="n%d" % i)
        t1.send_json({"type": "read", "room": room, "id": 5})
        self.assertEqual(t1.expect(type="read")["id"], 5)
        self.assertEqual(t2.expect(type="read")["id"], 5)  # every tab is told
        t2.send_json({"type": "read", "room": room, "id": 4})  # backwards: stays, only the asker hears
        self.assertEqual(t2.expect(type="read")["id"], 5)
        t1.expect_silence(0.3)
        # a reload: the counts come back from the server
        for ws in (t1, t2):
            ws.close()
            ws.expect_close(allow_eof=True)
        t3, _ = self.tab_as(room, me, k)
        r = t3.expect(type="read", room=room)
        self.assertEqual((r["id"], r["unread"], r["mentions"]), (5, 2, 0))
        t3.send_json({"type": "read", "room": room, "id": 3})
        self.assertEqual(t3.expect(type="read")["id"], 5)

    def test_mentions_count_whole_words_any_case(self):
        room, me, k = uniq("room"), uniq("Mia"), key(uniq())
        other, _ = self.join(room, uniq("Other"))
        t, _ = self.tab(room, me, k)
        t.expect(type="read", room=room)
        for i, text in enumerate(["%s!" % me.upper(), "ask %s?" % me, "x%s" % me, "nothing"]):
            other.send_json({"text": text, "client_id": "m%d" % i})
            other.expect(type="message", client_id="m%d" % i)
        t.close()
        t.expect_close(allow_eof=True)
        t, _ = self.tab_as(room, me, k)
        r = t.expect(type="read", room=room)
        self.assertEqual((r["unread"], r["mentions"]), (4, 2))

    def test_a_private_message_to_someone_reloading_waits_for_them(self):
        srv = self.start_server({"server": {"presence_grace_ms": 3000 * TIME_SCALE},
                                 "plugin privmsg": {}, "plugin history": {"commit_delay": 0, "replay": 0}})
        room, alice, bob, ka, kb = uniq("room"), uniq("Alice"), uniq("Bob"), key(uniq()), key(uniq())
        a = self.connect(room, alice, srv=srv, query={"multi": "1", "session": ka})
        a.expect(type="welcome")
        b = self.connect(room, bob, srv=srv, query={"multi": "1", "session": kb})
        b.expect(type="welcome")
        a.expect(type="system", event="join", username=bob)
        b.close()  # the reload: Bob's name and place are kept for the grace period
        b.expect_close(allow_eof=True)
        time.sleep(0.2)
        a.send_json({"type": "private", "to": bob, "text": "are you back?", "client_id": "w1"})
        echo = a.expect(type="private", client_id="w1")  # not no_such_user
        self.assertEqual(echo["to"], bob)
        back = self.connect(room, bob, srv=srv, query={"multi": "1", "session": kb})
        self.assertEqual(back.expect(type="welcome")["username"], bob)
        conv = back.expect(type="dms")["conversations"]
        self.assertEqual([(c["with"], c["unread"], c["last_id"]) for c in conv], [(alice, 1, echo["id"])])
        back.send_json({"type": "history", "dm": alice})
        self.assertEqual([m["text"] for m in back.expect(type="history")["messages"]], ["are you back?"])
        a.expect_silence(0.3)  # and no leave/join pair: the reload did not flap


if __name__ == "__main__":
    unittest.main(verbosity=2)
