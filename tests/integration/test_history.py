#!/usr/bin/env python3
"""Integration: the history plugin (plugins/history) in a running chatd.

Restarts keep history and ids; a ?since= reconnect gets exactly what it missed
(no gap, no duplicate at the seam, even while messages keep coming). That every
acknowledged message survives chatd being SIGKILLed (30 times), and what
happens when the disk fills up, turns read-only or is damaged, is tested in
test_durability.py. See docs/plugins/history.md.
"""

import os
import shutil
import sqlite3
import tempfile
import threading
import time

from chatdtest import ChatdServer, ChatdTestCase, main


def data_dir_server(data_dir, options=None, cls=ChatdServer, log_level="notice"):
    """A server of class cls (not started) with the history plugin (options)
    and data_dir as its data directory (-D given last wins)."""
    return cls({"plugin history": dict(options or {})}, log_level=log_level, extra_args=("-D", data_dir))


def read_history(ws, room, page=200):
    """Every stored message of the socket's room, oldest first, paging backwards."""
    out, before = [], None
    while True:
        req = {"type": "history", "limit": page}
        if before is not None:
            req["before"] = before
        ws.send_json(req)
        ans = ws.expect(type="history", timeout=10)
        assert ans["room"] == room, ans
        msgs = ans["messages"]
        ids = [m["id"] for m in msgs]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
        if before is not None and ids:
            assert ids[-1] < before, (ids, before)
        out[:0] = msgs
        if not ans["has_more"] or not msgs:
            return out
        before = ids[0]
        del ws.seen[:]  # keep the client's failure log small


def index_state(path):
    """(watermark of the lazy full-text index, newest seq, schema version)."""
    db = sqlite3.connect(path)
    try:
        return (db.execute("SELECT indexed_seq FROM fts_state").fetchone()[0],
                db.execute("SELECT COALESCE(MAX(seq), 0) FROM messages").fetchone()[0],
                db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])
    finally:
        db.close()


def integrity(path):
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()


class HistoryTest(ChatdTestCase):
    config = {"plugin history": {"replay": 5, "max_replay": 100000}}

    def say(self, ws, text, client_id=None):
        frame = {"type": "message", "text": text}
        if client_id:
            frame["client_id"] = client_id
        ws.send_json(frame)

    def test_replay_paging_and_search_on_the_wire(self):
        a, _ = self.join("h-wire", "WireA")
        for i in range(8):
            self.say(a, "wire %d" % i, "w%d" % i)
            a.expect(type="message", client_id="w%d" % i)
        b, welcome = self.join("h-wire", "WireB")
        self.assertEqual(welcome["last_id"], 8)
        replayed = [b.recv_json() for _ in range(5)]
        self.assertEqual([m["id"] for m in replayed], [4, 5, 6, 7, 8])
        self.assertTrue(all(m["history"] is True and m["type"] == "message" for m in replayed), replayed)
        b.send_json({"type": "history", "before": 4, "limit": 2})
        page = b.expect(type="history")
        self.assertEqual([m["id"] for m in page["messages"]], [2, 3])
        self.assertTrue(page["has_more"])
        b.send_json({"type": "search", "q": "wire", "limit": 3})
        found = b.expect(type="search")
        self.assertEqual([m["id"] for m in found["messages"]], [6, 7, 8])
        b.send_json({"type": "search", "q": "\"unbalanced"})
        self.assertEqual(b.expect(type="error")["code"], "bad_request")
        b.send_json({"type": "history", "limit": 1000})
        self.assertEqual(b.expect(type="error")["code"], "bad_request")

    def test_restart_keeps_history_and_ids_continue(self):
        data = tempfile.mkdtemp(prefix="chatd-hist-")
        self.addCleanup(shutil.rmtree, data, True)
        srv = data_dir_server(data)
        self.addCleanup(srv.kill)
        srv.start()
        a = srv.connect("h-restart", "Rita")
        for i in range(3):
            self.say(a, "before restart %d" % i, "r%d" % i)
            self.assertEqual(a.expect(type="message", client_id="r%d" % i)["id"], i + 1)
        a.close()
        srv.stop()  # SIGTERM: exit 0
        srv = data_dir_server(data)
        self.addCleanup(srv.kill)
        srv.start()
        b = srv.connect("h-restart", "Rita")
        self.addCleanup(b.close)
        welcome = b.recv_json()
        self.assertEqual(welcome["last_id"], 3)
        b.expect(type="system", event="join")
        for i in range(3):
            m = b.recv_json()
            self.assertEqual((m["id"], m["text"], m["history"]), (i + 1, "before restart %d" % i, True))
        self.say(b, "after restart", "x")
        m = b.expect(type="message", client_id="x")
        self.assertEqual(m["id"], 4)
        self.assertNotIn("history", m)
        self.assertEqual([m["id"] for m in read_history(b, "h-restart")], [1, 2, 3, 4])
        b.close()
        srv.stop()
        self.assertEqual(integrity(os.path.join(data, "history.db")), [("ok",)])

    def test_search_finds_unindexed_messages_and_the_index_catches_up(self):
        """Storing does not touch the full-text index (schema version 2): a
        search indexes what is missing first, and an idle server catches the
        index up by itself. Messages written behind chatd's back (not
        indexed) are found too."""
        data = tempfile.mkdtemp(prefix="chatd-hist-")
        self.addCleanup(shutil.rmtree, data, True)
        path = os.path.join(data, "history.db")
        srv = data_dir_server(data)
        self.addCleanup(srv.kill)
        srv.start()
        a = srv.connect("h-index", "Ines")
        for i in range(3):
            self.say(a, "needle %d" % i, "n%d" % i)
            a.expect(type="message", client_id="n%d" % i)
        a.send_json({"type": "search", "q": "needle"})
        found = a.expect(type="search")
        self.assertEqual([m["text"] for m in found["messages"]], ["needle 0", "needle 1", "needle 2"])
        self.assertNotIn("incomplete", found)
        a.close()
        srv.stop()
        wm, top, version = index_state(path)
        self.assertEqual((wm, top, version), (3, 3, 4))  # schema version 4 (private messages, read positions)
        db = sqlite3.connect(path)  # stored, not indexed: as after a crash under load
        with db:
            db.executemany("INSERT INTO messages(room, id, username, text, ts) VALUES ('h-index', ?, 'Bot', ?, 1)",
                           [(4 + i, "needle late %d" % i) for i in range(300)])
        db.close()
        srv = data_dir_server(data)
        self.addCleanup(srv.kill)
        srv.start()
        b = srv.connect("h-index", "Ines")
        self.addCleanup(b.close)
        b.send_json({"type": "search", "q": "needle AND late", "limit": 200})
        found = b.expect(type="search")
        self.assertEqual([m["id"] for m in found["messages"]], list(range(104, 304)))
        self.assertTrue(found["has_more"])
        self.assertNotIn("incomplete", found)
        for i in range(5):
            self.say(b, "needle after %d" % i, "a%d" % i)
            b.expect(type="message", client_id="a%d" % i)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # nobody talks: the index catches up by itself
            wm, top, _ = index_state(path)
            if wm == top:
                break
            time.sleep(0.05)
        self.assertEqual(wm, top, "the index stayed behind on an idle server")
        self.assertEqual(top, 308)
        b.send_json({"type": "search", "q": "after"})
        self.assertEqual(len(b.expect(type="search")["messages"]), 5)

    def test_since_reconnect_gets_exactly_what_was_missed(self):
        a, _ = self.join("h-since", "SinceA")
        b, _ = self.join("h-since", "SinceB")
        a.expect(type="system", event="join", username="SinceB")
        self.say(a, "seen by b", "s1")
        a.expect(type="message", client_id="s1")
        last = b.expect(type="message", text="seen by b")["id"]
        b.close()
        for i in range(4):
            self.say(a, "missed %d" % i, "m%d" % i)
            a.expect(type="message", client_id="m%d" % i)
        b = self.connect("h-since", "SinceB", since=last)
        self.assertEqual(b.recv_json()["type"], "welcome")
        b.expect(type="system", event="join")
        got = [b.recv_json() for _ in range(4)]
        self.assertEqual([m["id"] for m in got], [last + 1, last + 2, last + 3, last + 4])
        self.assertEqual([m["text"] for m in got], ["missed %d" % i for i in range(4)])
        self.assertTrue(all(m["history"] for m in got))
        self.say(a, "live again", "l")
        m = b.expect(type="message", text="live again")
        self.assertEqual(m["id"], last + 5)
        self.assertNotIn("history", m)
        b.expect_silence(0.2)  # nothing replayed twice

    def test_since_seam_under_a_steady_stream(self):
        """Reconnect with ?since= over and over while a sender never stops:
        every connection sees since+1, since+2, ... with no hole and no repeat,
        the replayed ones (history:true) strictly before the live ones."""
        room = "h-seam"
        sender, _ = self.join(room, "SeamSender")
        stop = threading.Event()
        sent = []

        def pump():
            n = 0
            while not stop.is_set():
                for _ in range(5):
                    self.say(sender, "s%d" % n, "c%d" % n)
                    n += 1
                while True:  # wait for the echo of the last of those five
                    m = sender.expect(type="message", username="SeamSender")
                    if m.get("client_id") == "c%d" % (n - 1):
                        break
                sent.append(n)
                del sender.seen[:]
                time.sleep(0.002)

        t = threading.Thread(target=pump, daemon=True)
        t.start()
        self.addCleanup(stop.set)
        try:
            time.sleep(0.2)
            last = 0
            for round_ in range(12):
                ws = self.connect(room, "SeamReader", since=last)
                self.assertEqual(ws.recv_json()["type"], "welcome")
                ids, live_started = [], False
                deadline = time.monotonic() + 0.25
                while time.monotonic() < deadline:
                    m = ws.recv_json()
                    if m["type"] != "message":
                        continue
                    if m.get("history"):
                        self.assertFalse(live_started, "history frame after a live one: %r" % m)
                    else:
                        live_started = True
                    ids.append(m["id"])
                self.assertTrue(ids, "round %d: no message at all" % round_)
                self.assertEqual(ids, list(range(last + 1, last + 1 + len(ids))),
                                 "round %d since=%d: ids %r" % (round_, last, ids))
                last = ids[-1]
                ws.close()
        finally:
            stop.set()
            t.join(10)
        self.assertGreater(len(sent), 10)


if __name__ == "__main__":
    main()
