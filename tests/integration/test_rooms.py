#!/usr/bin/python3
"""One connection, many rooms (docs/protocol.md, "Many rooms on one
connection"): multi=1, join adds a room, leave/left, the optional "room" of
room-scoped frames and not_in_room, the current room, max_rooms_per_client,
room names folded to lower case, the rooms list with unlisted rooms, per-room
presence, typing and history, and the tutorial's single-room default."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, uniq  # noqa: E402





MULTI = {"multi": "1"}


class RoomsTest(ChatdTestCase):
    config = {"server": {"max_rooms_per_client": 3, "unlisted_rooms": "hidden-*"},
              "plugin typing": {"throttle_ms": 100},
              "plugin history": {"replay": 5, "commit_delay": 0}}

    def multi(self, room, name):
        """A multi-room connection, welcome and own join notice consumed."""
        ws, welcome = self.join(room, name, query=MULTI)
        self.assertIs(welcome.get("multi"), True, welcome)
        return ws

    def add_room(self, ws, room, name, **extra):
        """Join one more room on ws; returns its welcome (own join notice consumed)."""
        ws.send_json(dict({"type": "join", "room": room}, **extra))
        w = ws.expect(type="welcome", room=room.lower())
        ws.expect(type="system", event="join", room=room.lower(), username=name)
        return w

    def test_client_in_three_rooms_gets_each_message_once(self):
        rooms = [uniq("room"), uniq("room"), uniq("room")]
        me = uniq("Multi")
        ws = self.multi(rooms[0], me)
        for r in rooms[1:]:
            self.add_room(ws, r, me)
        others = []
        for i, r in enumerate(rooms):
            o, _ = self.join(r, uniq("Other"))
            others.append(o)
        ws.drain(0.2)
        for i, o in enumerate(others):
            o.send_json({"type": "message", "text": "hello %d" % i})
        got = []
        for _ in range(3):
            got.append(ws.expect(type="message"))
        self.assertEqual(sorted((m["room"], m["text"]) for m in got),
                         sorted((r, "hello %d" % i) for i, r in enumerate(rooms)))
        self.assertEqual(len({m["id"] for m in got if m["room"] == rooms[0]}), 1)
        for op, payload in ws.drain(0.3):
            self.assertNotIn('"type":"message"', payload, "a message came twice")
        # sending: "room" names one of its rooms; without it, the current (last joined) one
        ws.send_json({"type": "message", "text": "to first", "room": rooms[0].upper(), "client_id": "c1"})
        echo = ws.expect(type="message", client_id="c1")
        self.assertEqual(echo["room"], rooms[0])
        others[0].expect(type="message", text="to first", room=rooms[0])
        ws.send_json({"type": "message", "text": "to current"})
        others[2].expect(type="message", text="to current", room=rooms[2])
        for o in others[:2]:
            for op, payload in o.drain(0.2):
                self.assertNotIn("to current", payload)

    def test_leave_one_room_keeps_the_others(self):
        r1, r2 = uniq("room"), uniq("room")
        me = uniq("Leaver")
        ws = self.multi(r1, me)
        self.add_room(ws, r2, me)
        a, _ = self.join(r1, uniq("Ann"))
        b, _ = self.join(r2, uniq("Bob"))
        ws.drain(0.2)
        ws.send_json({"type": "leave", "room": r1})
        self.assertEqual(ws.expect(type="left"), {"type": "left", "room": r1})
        a.expect(type="system", event="leave", room=r1, username=me)
        b.expect_silence(0.3)
        a.send_json({"text": "only one"})
        b.send_json({"text": "only two"})
        m = ws.expect(type="message")
        self.assertEqual((m["room"], m["text"]), (r2, "only two"))
        ws.expect_silence(0.3)
        for frame in ({"text": "x", "room": r1}, {"type": "who", "room": r1}, {"type": "leave", "room": r1},
                      {"type": "typing", "room": r1}, {"type": "history", "room": r1}):
            ws.send_json(frame)
            e = ws.expect(type="error")
            self.assertEqual(e["code"], "not_in_room", (frame, e))
        # the socket stays open and works
        ws.send_json({"type": "who"})
        self.assertEqual(ws.expect(type="users")["room"], r2)

    def test_leaving_every_room_then_joining_again(self):
        r1 = uniq("room")
        ws, _ = self.join(r1, uniq("Solo"))  # single mode: leave works there too
        ws.send_json({"type": "leave"})
        self.assertEqual(ws.expect(type="left")["room"], r1)
        ws.send_json({"text": "anyone?"})
        self.assertEqual(ws.expect(type="error")["code"], "not_in_room")
        ws.send_json({"type": "join", "room": r1})
        self.assertEqual(ws.expect(type="welcome")["room"], r1)

    def test_too_many_rooms(self):
        me = uniq("Greedy")
        rooms = [uniq("room") for _ in range(4)]
        ws = self.multi(rooms[0], me)
        for r in rooms[1:3]:
            self.add_room(ws, r, me)
        ws.send_json({"type": "join", "room": rooms[3]})
        e = ws.expect(type="error")
        self.assertEqual(e["code"], "too_many_rooms", e)
        ws.send_json({"type": "rooms"})
        listed = [r["name"] for r in ws.expect(type="rooms")["rooms"]]
        self.assertNotIn(rooms[3], listed)
        ws.send_json({"type": "leave", "room": rooms[0]})
        ws.expect(type="left")
        self.add_room(ws, rooms[3], me)

    def test_room_names_are_case_insensitive(self):
        base = uniq("Lounge").capitalize()
        ws, w = self.join(base, uniq("Ann"))
        self.assertEqual(w["room"], base.lower())
        ws2, w2 = self.join(base.upper(), uniq("Bob"))
        self.assertEqual(w2["room"], base.lower())
        self.assertEqual(w2["user_count"], 2)
        ws.expect(type="system", event="join", room=base.lower())

    def test_rooms_list(self):
        big, small, hidden = uniq("room"), uniq("room"), uniq("hidden-room")
        keep = []
        for _ in range(3):
            keep.append(self.join(big, uniq("Big"))[0])
        keep.append(self.join(small, uniq("Small"))[0])
        keep.append(self.join(hidden, uniq("Secret"))[0])
        ws, _ = self.join(uniq("room"), uniq("Asker"))
        ws.send_json({"type": "rooms"})
        answer = ws.expect(type="rooms")
        counts = {r["name"]: r["user_count"] for r in answer["rooms"]}
        self.assertEqual(counts.get(big), 3, answer)
        self.assertEqual(counts.get(small), 1, answer)
        self.assertNotIn(hidden, counts)
        sizes = [r["user_count"] for r in answer["rooms"]]
        self.assertEqual(sizes, sorted(sizes, reverse=True))
        # an unlisted room still works for whoever knows its name
        ws.send_json({"type": "join", "room": hidden})
        self.assertEqual(ws.expect(type="welcome")["user_count"], 2)

    def test_presence_and_typing_per_room(self):
        r1, r2 = uniq("room"), uniq("room")
        me = uniq("Typist")
        ws = self.multi(r1, me)
        a, _ = self.join(r1, uniq("Ann"))
        b, _ = self.join(r2, uniq("Bob"))
        ws.drain(0.2)
        w = self.add_room(ws, r2, me)
        self.assertEqual(w["user_count"], 2, w)
        self.assertIn(me, w["users"])
        b.expect(type="system", event="join", room=r2, username=me)
        a.expect_silence(0.3)
        ws.send_json({"type": "typing", "room": r1})
        a.expect(type="typing", room=r1, username=me)
        b.expect_silence(0.3)
        ws.send_json({"type": "typing"})  # the current room
        b.expect(type="typing", room=r2, username=me)

    def test_history_replay_and_since_per_room(self):
        r1, r2 = uniq("room"), uniq("room")
        a, _ = self.join(r1, uniq("Ann"))
        b, _ = self.join(r2, uniq("Bob"))
        for i in range(3):
            a.send_json({"text": "one %d" % i})
            b.send_json({"text": "two %d" % i})
        a.expect(type="message", text="one 2")
        b.expect(type="message", text="two 2")
        me = uniq("Reader")
        ws, _ = self.join(r1, me, query=MULTI)
        replay1 = [ws.expect(type="message", history=True)["text"] for _ in range(3)]
        self.assertEqual(replay1, ["one 0", "one 1", "one 2"])
        ws.send_json({"type": "join", "room": r2, "since": 2})
        ws.expect(type="welcome", room=r2)
        m = ws.expect(type="message", history=True)
        self.assertEqual((m["room"], m["id"], m["text"]), (r2, 3, "two 2"))
        ws.send_json({"type": "history", "room": r1, "before": 3, "limit": 10})
        h = ws.expect(type="history")
        self.assertEqual(h["room"], r1)
        self.assertEqual([x["text"] for x in h["messages"]], ["one 0", "one 1"])

    def test_reconnect_resumes_every_room_with_its_since(self):
        """A multi-room socket that dropped comes back with since= in the URL for its
        first room and a join with since for each other: each room replays exactly what
        was missed there, once, and nothing already seen."""
        r1, r2 = uniq("room"), uniq("room")
        me = uniq("Back")
        ws = self.multi(r1, me)
        self.add_room(ws, r2, me)
        a, _ = self.join(r1, uniq("Ann"))
        b, _ = self.join(r2, uniq("Bob"))
        a.send_json({"text": "a seen"})
        seen1 = ws.expect(type="message", room=r1, text="a seen")["id"]
        b.send_json({"text": "b seen"})  # after: expect() skips what comes before its frame
        seen2 = ws.expect(type="message", room=r2, text="b seen")["id"]
        ws.close()
        for t in ("a missed 1", "a missed 2"):
            a.send_json({"text": t})
            a.expect(type="message", text=t)
        b.send_json({"text": "b missed"})
        b.expect(type="message", text="b missed")

        def messages_until(sock, last):
            got = []
            while not got or got[-1]["text"] != last:
                f = sock.recv_json()
                if f.get("type") == "message":
                    got.append(f)
            return got

        back = self.connect(r1, me, query={"multi": "1", "since": str(seen1)})
        got1 = messages_until(back, "a missed 2")
        self.assertEqual([(m["room"], m["text"], m.get("history")) for m in got1],
                         [(r1, "a missed 1", True), (r1, "a missed 2", True)])
        back.send_json({"type": "join", "room": r2, "since": seen2})
        got2 = messages_until(back, "b missed")
        self.assertEqual([(m["room"], m["text"], m.get("history")) for m in got2], [(r2, "b missed", True)])
        # Nothing else is replayed: the next message is a live one in each room.
        a.send_json({"text": "a live"})
        self.assertEqual([m["text"] for m in messages_until(back, "a live")], ["a live"])
        b.send_json({"text": "b live"})
        self.assertEqual([m["text"] for m in messages_until(back, "b live")], ["b live"])

    def test_disconnect_leaves_every_room(self):
        r1, r2 = uniq("room"), uniq("room")
        me = uniq("Goner")
        ws = self.multi(r1, me)
        self.add_room(ws, r2, me)
        a, _ = self.join(r1, uniq("Ann"))
        b, _ = self.join(r2, uniq("Bob"))
        ws.close()
        a.expect(type="system", event="leave", room=r1, username=me)
        b.expect(type="system", event="leave", room=r2, username=me)

    def test_single_mode_is_the_default(self):
        r1, r2 = uniq("room"), uniq("room")
        me = uniq("Classic")
        ws, w = self.join(r1, me)
        self.assertNotIn("multi", w)
        a, _ = self.join(r1, uniq("Ann"))
        ws.send_json({"type": "join", "room": r2})
        self.assertEqual(ws.expect(type="welcome")["room"], r2)
        a.expect(type="system", event="leave", room=r1, username=me)
        ws.send_json({"type": "who"})
        self.assertEqual(ws.expect(type="users")["room"], r2)

    def test_bad_room_fields(self):
        ws, _ = self.join(uniq("room"), uniq("Bad"), query=MULTI)
        for frame in ({"text": "x", "room": 5}, {"text": "x", "room": "a b"}, {"type": "leave", "room": "../x"},
                      {"type": "join", "room": ""}):
            ws.send_json(frame)
            self.assertEqual(ws.expect(type="error")["code"], "bad_request", frame)


if __name__ == "__main__":
    unittest.main(verbosity=2)
