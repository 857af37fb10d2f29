#!/usr/bin/python3
"""20 rooms x 10 clients, each client sends 20 messages: every client gets
every message of its room exactly once, in the room's id order, and nothing
from any other room."""

import json
import os
import select
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase  # noqa: E402
from wsclient import OP_TEXT, WSClosed  # noqa: E402

ROOMS = 20
PER_ROOM = 10
MESSAGES = 20
DEADLINE_S = 30


class ManyClientsTest(ChatdTestCase):

    def test_fanout_exact_once_in_order(self):
        clients = []  # (room, index, ws, name)
        for r in range(ROOMS):
            for i in range(PER_ROOM):
                # spread the clients over several loopback source addresses
                ws = self.connect("many%02d" % r, "m%02dc%02d" % (r, i), source="127.0.0.%d" % (2 + r % 8))
                clients.append(["many%02d" % r, i, ws, "m%02dc%02d" % (r, i)])
        for c in clients:
            w = c[2].recv_json()
            self.assertEqual(w.get("type"), "welcome", w)
            self.assertEqual(w["username"], c[3])

        by_sock = {c[2].sock: c for c in clients}
        received = {id(c[2]): [] for c in clients}  # message frames, in arrival order
        to_send = {id(c[2]): MESSAGES for c in clients}
        want_total = PER_ROOM * MESSAGES
        done = set()
        deadline = time.monotonic() + DEADLINE_S

        def read_ready(ws):
            alive = ws.pump()
            for op, payload in ws.buffered_frames():
                if op != OP_TEXT:
                    self.fail("%s got %r" % (ws.path, (op, payload)))
                m = json.loads(payload)
                if m.get("type") == "message":
                    received[id(ws)].append(m)
                    if len(received[id(ws)]) >= want_total:
                        done.add(id(ws))
                elif m.get("type") == "error":
                    self.fail("error frame: %r" % m)
            if not alive:
                raise WSClosed("%s: connection closed; seen %s" % (ws.path, ws.history()))

        seq = 0
        while len(done) < len(clients):
            if time.monotonic() > deadline:
                short = {c[3]: len(received[id(c[2])]) for c in clients if id(c[2]) not in done}
                self.fail("not every client got all %d messages of its room within %ds: %r"
                          % (want_total, DEADLINE_S, dict(list(short.items())[:20])))
            # send one message from every client that still has some, then read
            if seq < MESSAGES:
                for room, i, ws, name in clients:
                    ws.send_json({"type": "message", "text": "%s|%s|%d" % (room, name, seq),
                                  "client_id": "%s-%d" % (name, seq)})
                    to_send[id(ws)] -= 1
                seq += 1
            ready, _, _ = select.select(list(by_sock), [], [], 0.05 if seq >= MESSAGES else 0)
            for s in ready:
                try:
                    read_ready(by_sock[s][2])
                except WSClosed as e:
                    self.fail("a client was disconnected: %s" % e)

        # every client: exactly its room's messages, each once, ids strictly increasing
        rooms = {}
        for room, i, ws, name in clients:
            msgs = received[id(ws)]
            self.assertEqual(len(msgs), want_total, name)
            for m in msgs:
                self.assertEqual(m["room"], room, "%s got a message of another room: %r" % (name, m))
                self.assertTrue(m["text"].startswith(room + "|"), m)
                # the client_id echo goes to the sender only
                sender = m["text"].split("|")[1]
                if sender == name:
                    self.assertEqual(m.get("client_id"), "%s-%s" % (name, m["text"].split("|")[2]), m)
                else:
                    self.assertNotIn("client_id", m)
            ids = [m["id"] for m in msgs]
            self.assertEqual(ids, sorted(ids), "%s: ids out of order" % name)
            self.assertEqual(len(set(ids)), len(ids), "%s: duplicate ids" % name)
            texts = [m["text"] for m in msgs]
            self.assertEqual(len(set(texts)), want_total, "%s: a message came twice or not at all" % name)
            expected = {"%s|m%sc%02d|%d" % (room, room[4:], j, k) for j in range(PER_ROOM) for k in range(MESSAGES)}
            self.assertEqual(set(texts), expected, name)
            # each sender's messages in the order it sent them
            for j in range(PER_ROOM):
                mine = [int(t.split("|")[2]) for t in texts if t.split("|")[1] == "m%sc%02d" % (room[4:], j)]
                self.assertEqual(mine, list(range(MESSAGES)))
            # every member of a room sees the same sequence
            seq_view = [(m["id"], m["text"], m["username"]) for m in msgs]
            if room in rooms:
                self.assertEqual(seq_view, rooms[room], "%s sees a different order than its room" % name)
            else:
                rooms[room] = seq_view
        for room, view in rooms.items():
            for id_, text, username in view:
                self.assertEqual(text.split("|")[1], username, "the message names its real sender")

        status, health = self.srv.healthz()
        self.assertEqual(health.get("connections"), ROOMS * PER_ROOM)
        self.assertEqual(health.get("rooms"), ROOMS)


if __name__ == "__main__":
    unittest.main(verbosity=2)
