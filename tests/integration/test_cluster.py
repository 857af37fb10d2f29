"""Issue 17 items 1-5: one chat over three chatd nodes and one Redis (AOF on),
all started by the test: a room spans the nodes (one order, dense ids, the
sender's ack, retries without duplicates), presence and typing are the whole
room's, names are unique cluster-wide, the per-address rate limit holds over
the nodes, and history (replay, paging, ?since= on another node, what is no
longer kept) answers the same everywhere."""

import json
import threading
import time
import unittest

import chatdtest
import clustertest
import wsclient
from clustertest import ClusterNode, RedisServer

clustertest.skip_unless_cluster()

# Look-alike folding for the test's own check (Cyrillic А, а map to a).
FOLD = str.maketrans({"\u0410": "a", "\u0430": "a"})


def fold(name):
    return name.translate(FOLD).lower()


class ClusterCase(chatdtest.ChatdTestCase):
    """A Redis and NODES chatd nodes per class."""

    NODES = 3
    # the per-address limit would hold every test client (all on 127.0.0.1): off but in AddressLimit
    cluster_opts = {"address_messages_per_second": 0}
    server_opts = {}
    plugins_before = {"plugin typing": {}, "plugin privmsg": {}}
    plugins_after = {}

    @classmethod
    def setUpClass(cls):
        cls._class_failed = False
        cls.redis = RedisServer().start()
        cls.addClassCleanup(cls.redis.cleanup)
        cls.nodes = []
        for i in range(cls.NODES):
            n = ClusterNode(cls.redis, name="n%d" % i, cluster=cls.cluster_opts, server=cls.server_opts,
                            plugins_before=cls.plugins_before, plugins_after=cls.plugins_after)
            cls.addClassCleanup(n.cleanup)
            cls.addClassCleanup(n.kill)
            n.start()
            cls.nodes.append(n)
        for n in cls.nodes:
            n.wait_log("registered as node")
        cls.srv = cls.nodes[0]

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            try:
                if n.alive():
                    n.stop()
            finally:
                if cls._class_failed:
                    import sys
                    print("\n--- %s stderr ---\n%s--- end ---" % (n.name, n.stderr()[-15000:]), file=sys.stderr)
                n.kill()
                n.cleanup()

    def enter(self, node, room, name, **kw):
        """Connect to node, consume the welcome; returns (ws, welcome)."""
        ws = self.connect(room, name, srv=node, **kw)
        welcome = ws.expect(type="welcome", timeout=5.0)
        return ws, welcome

    def who(self, ws, room=None):
        ws.send_json({"type": "who", "room": room} if room else {"type": "who"})
        return ws.expect(type="users", timeout=5.0)

    def wait_users(self, ws, want, room=None, timeout=5.0):
        """Poll `who` until its users are exactly `want` (a set)."""
        deadline = time.monotonic() + timeout
        while True:
            got = set(self.who(ws, room)["users"])
            if got == set(want):
                return got
            if time.monotonic() > deadline:
                self.fail("who answered %r, want %r" % (sorted(got), sorted(want)))
            time.sleep(0.1)

    def messages(self, ws, n, timeout=10.0):
        """The next n message frames (others skipped)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("got %d of %d messages: %r" % (len(out), n, out[-3:]))
            f = ws.recv_json(timeout=left)
            if f.get("type") == "message":
                out.append(f)
        return out


class RoomSpansNodes(ClusterCase):
    def test_one_order_dense_ids_and_acks(self):
        """Item 1: two members per node; three senders, one per node, send at
        once; every member gets every message once, all in the same order,
        with dense increasing ids; each sender's copy carries its client_id."""
        room = "spans"
        members = []
        for i, node in enumerate(self.nodes):
            for j in range(2):
                ws, _ = self.enter(node, room, "m%d%d" % (i, j))
                members.append(ws)
        self.wait_users(members[0], {"m%d%d" % (i, j) for i in range(3) for j in range(2)}, room)
        per_sender = 30
        senders = [members[0], members[2], members[4]]
        for k in range(per_sender):
            for s_i, s in enumerate(senders):
                s.send_json({"type": "message", "room": room, "text": "s%d-%d" % (s_i, k),
                             "client_id": "c%d-%d" % (s_i, k)})
        total = per_sender * len(senders)
        seen = [self.messages(ws, total, timeout=20.0) for ws in members]
        ref = [(m["id"], m["username"], m["text"]) for m in seen[0]]
        ids = [m["id"] for m in seen[0]]
        self.assertEqual(ids, list(range(ids[0], ids[0] + total)), "ids are not dense and increasing")
        for ws_seen in seen[1:]:
            self.assertEqual([(m["id"], m["username"], m["text"]) for m in ws_seen], ref)
        for s_i, s in enumerate(senders):
            own = [m for m in seen[members.index(s)] if m["text"].startswith("s%d-" % s_i)]
            self.assertEqual(len(own), per_sender)
            self.assertTrue(all(m.get("client_id") == "c%d-%s" % (s_i, m["text"].split("-")[1]) for m in own),
                            own[:3])
        for i, ws_seen in enumerate(seen):
            if members[i] not in senders:
                self.assertFalse(any("client_id" in m for m in ws_seen), "client_id leaked to a non-sender")
        # per sender, the order it sent in
        for s_i in range(len(senders)):
            texts = [t for _, _, t in ref if t.startswith("s%d-" % s_i)]
            self.assertEqual(texts, ["s%d-%d" % (s_i, k) for k in range(per_sender)])

    def test_retry_with_same_client_id_is_not_a_duplicate(self):
        """Item 1: a message sent again with the same client_id on the same
        connection is answered with the first one's id, not stored twice."""
        room = "retry"
        a, _ = self.enter(self.nodes[0], room, "ra")
        b, _ = self.enter(self.nodes[1], room, "rb")
        self.wait_users(b, {"ra", "rb"}, room)
        a.send_json({"type": "message", "room": room, "text": "once", "client_id": "k1"})
        first = a.expect(type="message", client_id="k1")
        a.send_json({"type": "message", "room": room, "text": "once", "client_id": "k1"})
        again = a.expect(type="message", client_id="k1")
        self.assertEqual(again["id"], first["id"])
        self.assertTrue(again.get("duplicate"), again)
        got = b.expect(type="message", text="once")
        self.assertEqual(got["id"], first["id"])
        a.send_json({"type": "message", "room": room, "text": "next", "client_id": "k2"})
        nxt = b.expect(type="message", text="next")
        self.assertEqual(nxt["id"], first["id"] + 1, "the retry took an id")


class ManyRoomsAcrossNodes(ClusterCase):
    def numsub(self, room):
        r = self.redis.call("PUBSUB", "NUMSUB", "chatd:r:" + room)
        return r[1]

    def test_one_connection_in_several_rooms_and_subscriptions_follow_members(self):
        """A multi=1 connection in several rooms gets each room's messages from
        other nodes; a node subscribes only to rooms it has people in."""
        a = self.connect("mr1", srv=self.nodes[0], path="/ws/mr1?name=multi&multi=1")
        a.expect(type="welcome")
        a.send_json({"type": "join", "room": "mr2"})
        a.expect(type="welcome", room="mr2")
        b1, _ = self.enter(self.nodes[1], "mr1", "w1")
        b2, _ = self.enter(self.nodes[2], "mr2", "w2")
        self.wait_users(a, {"multi", "w1"}, "mr1")
        self.wait_users(a, {"multi", "w2"}, "mr2")
        b1.send_json({"type": "message", "text": "to one"})
        b2.send_json({"type": "message", "text": "to two"})
        got = {a.expect(type="message", timeout=5)["room"] for _ in range(2)}
        self.assertEqual(got, {"mr1", "mr2"})
        self.assertEqual(self.numsub("mr2"), 2)  # node 0 (multi) and node 2 (w2)
        a.send_json({"type": "leave", "room": "mr2"})
        a.expect(type="left", room="mr2")
        deadline = time.monotonic() + 3
        while self.numsub("mr2") != 1:  # node 0 has nobody in mr2 any more
            self.assertLess(time.monotonic(), deadline, "node 0 still subscribed to mr2")
            time.sleep(0.05)
        b2.close()
        deadline = time.monotonic() + 3
        while self.numsub("mr2") != 0:
            self.assertLess(time.monotonic(), deadline, "a node without members of mr2 still subscribed")
            time.sleep(0.05)


class RoomListAcrossNodes(ClusterCase):
    server_opts = {"unlisted_rooms": "secret-*"}

    def rooms(self, ws):
        ws.send_json({"type": "rooms"})
        return {r["name"]: r["user_count"] for r in ws.expect(type="rooms", timeout=5.0)["rooms"]}

    def wait_rooms(self, ws, want, timeout=5.0):
        """Poll `rooms` until the rooms named in want have exactly those counts
        (None: not listed)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.rooms(ws)
            if all(got.get(k) == v for k, v in want.items()):
                return got
            if time.monotonic() > deadline:
                self.fail("rooms answered %r, want %r" % (got, want))
            time.sleep(0.1)

    def test_rooms_lists_every_nodes_rooms_with_their_whole_count(self):
        """`rooms` asked on any node lists the rooms people are in on every
        node (a room with nobody on the node asked, too), counting each
        person once over the nodes, biggest first; unlisted rooms stay out;
        a room everybody left goes."""
        asker, _ = self.enter(self.nodes[0], "rl-home", "asker")
        far = [self.enter(self.nodes[1 + i % 2], "rl-far", "far%d" % i)[0] for i in range(3)]
        both = [self.enter(self.nodes[i], "rl-both", "both%d" % i)[0] for i in range(2)]
        key = "t" * 20 + "roomlist"
        tabs = [self.connect("rl-both", srv=self.nodes[i], path="/ws/rl-both?name=Tab&session=%s" % key)
                for i in (1, 2)]
        for t in tabs:
            self.assertEqual(t.expect(type="welcome")["username"], "Tab")
        hidden, _ = self.enter(self.nodes[2], "secret-x", "spy")
        for node in self.nodes:  # the same list on every node
            ws, _ = self.enter(node, "rl-look%d" % self.nodes.index(node), "look%d" % self.nodes.index(node))
            got = self.wait_rooms(ws, {"rl-far": 3, "rl-both": 3, "rl-home": 1, "secret-x": None})
            names = [n for n in got if n.startswith("rl-far") or n.startswith("rl-both")]
            self.assertEqual(names, ["rl-both", "rl-far"], "biggest first, then by name: %r" % got)
            ws.close()
        for ws in far:
            ws.close()
        self.wait_rooms(asker, {"rl-far": None, "rl-both": 3})
        hidden.close()


class PresenceAcrossNodes(ClusterCase):
    server_opts = {"big_room_members": 4, "presence_interval_ms": 200}

    def test_welcome_who_notices_typing(self):
        """Item 2: the welcome, `who`, join/leave/rename notices and typing
        include the members of every node."""
        room = "pres"
        alice, w = self.enter(self.nodes[0], room, "alice")
        self.assertEqual(w["users"], ["alice"])
        self.wait_users(alice, {"alice"}, room)
        bob, w = self.enter(self.nodes[1], room, "bob")
        deadline = time.monotonic() + 3
        while "alice" not in w["users"] and time.monotonic() < deadline:  # the snapshot may precede alice's entry
            w = {"users": self.who(bob, room)["users"]}
        self.assertIn("alice", w["users"])
        alice.expect(type="system", event="join", username="bob", timeout=3.0)
        carol, w = self.enter(self.nodes[2], room, "carol")
        self.wait_users(carol, {"alice", "bob", "carol"}, room)
        self.wait_users(alice, {"alice", "bob", "carol"}, room)  # each node hears the others in its time
        self.assertEqual(self.who(alice, room)["user_count"], 3)
        # typing crosses nodes
        alice.send_json({"type": "typing", "room": room})
        t = bob.expect(type="typing", timeout=3.0)
        self.assertEqual(t["username"], "alice")
        carol.expect(type="typing", username="alice", timeout=3.0)
        # a rename on one node is one notice on the others
        bob.send_json({"type": "nick", "username": "robert"})
        r = alice.expect(type="system", event="rename", timeout=3.0)
        self.assertEqual((r["old"], r["username"]), ("bob", "robert"))
        self.wait_users(carol, {"alice", "robert", "carol"}, room)
        # a leave on one node reaches the others
        bob.close()
        alice.expect(type="system", event="leave", username="robert", timeout=3.0)
        self.wait_users(carol, {"alice", "carol"}, room)

    def test_big_room_summary_counts_every_node(self):
        """Item 2: in a big room the periodic summary and its count include
        the members of other nodes."""
        room = "bigroom"
        socks = []
        for i in range(4):
            ws, _ = self.enter(self.nodes[i % 3], room, "big%d" % i)
            socks.append(ws)
        self.wait_users(socks[0], {"big%d" % i for i in range(4)}, room)
        late, _ = self.enter(self.nodes[1], room, "late")
        summary = socks[0].expect(type="system", event="presence", timeout=3.0)
        self.assertIn("late", summary["joined"])
        self.assertEqual(summary["count"], 5)


class Names(ClusterCase):
    def test_hundred_clients_one_alice(self):
        """Item 3: 100 clients ask for alice/Alice/Аlice over three nodes at
        once: exactly one gets it, the others get variants, all distinct."""
        asks = ["alice", "Alice", "\u0410lice"]
        got, errors = [None] * 100, []
        socks = [None] * 100

        def one(i):
            try:
                ws = self.nodes[i % 3].connect("names", asks[i % 3])
                socks[i] = ws
                got[i] = ws.expect(type="welcome", timeout=15.0)["username"]
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(repr(e))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for ws in socks:
            if ws:
                self.addCleanup(ws.close)
        self.assertEqual(errors, [])
        folded = [fold(n) for n in got]
        self.assertEqual(folded.count("alice"), 1, sorted(got))
        self.assertEqual(len(set(folded)), 100, "a name given twice: %r" % sorted(got))
        for n in got:
            self.assertTrue(fold(n).startswith("alice"), n)

    def test_name_free_again_after_leaving(self):
        a = self.nodes[0].connect("names2", "zed")
        self.assertEqual(a.expect(type="welcome")["username"], "zed")
        b = self.nodes[1].connect("names2", "Zed")
        self.assertEqual(b.expect(type="welcome")["username"], "Zed2")
        a.close()
        b.close()
        time.sleep(0.3)
        c = self.connect("names2", "ZED", srv=self.nodes[2])
        self.assertEqual(c.expect(type="welcome")["username"], "ZED")


class SessionsAcrossNodes(ClusterCase):
    def test_two_tabs_of_one_session_on_two_nodes_are_one_person(self):
        """Tabs of one session (?session=) asking for the same name share it
        on any node: one name, shown once, no join or leave notice as one tab
        comes and goes while the other stays."""
        key = "s" * 20 + "cluster"
        room = "tabs"
        obs, _ = self.enter(self.nodes[2], room, "observer")
        t1 = self.connect(room, srv=self.nodes[0], path="/ws/%s?name=Sam&session=%s" % (room, key))
        self.assertEqual(t1.expect(type="welcome")["username"], "Sam")
        t2 = self.connect(room, srv=self.nodes[1], path="/ws/%s?name=sam&session=%s" % (room, key))
        self.assertEqual(t2.expect(type="welcome")["username"], "Sam")
        self.wait_users(obs, {"observer", "Sam"}, room)
        other = self.connect(room, srv=self.nodes[1], path="/ws/%s?name=Sam" % room)
        self.assertEqual(other.expect(type="welcome")["username"], "Sam2")  # another person: a variant
        obs.expect(type="system", event="join", username="Sam2", timeout=3.0)
        t2.close()
        time.sleep(0.5)
        self.wait_users(obs, {"observer", "Sam", "Sam2"}, room)
        for _op, payload in obs.drain(0.3):
            f = json.loads(payload)
            self.assertFalse(f.get("type") == "system" and f.get("username") == "Sam", f)


class PrivateMessages(ClusterCase):
    def test_msg_reaches_a_user_on_another_node(self):
        """Item 3: /msg NAME reaches NAME on whichever node they are; the sender
        gets its echo; nobody by that name anywhere is no_such_user."""
        alice, _ = self.enter(self.nodes[0], "dm", "dmalice")
        bob, _ = self.enter(self.nodes[2], "elsewhere", "DmBob")
        alice.send_json({"type": "message", "room": "dm", "text": "/msg dmbob psst"})
        got = bob.expect(type="private", timeout=5.0)
        self.assertEqual((got["from"], got["to"], got["text"]), ("dmalice", "DmBob", "psst"))
        echo = alice.expect(type="private", timeout=5.0)
        self.assertEqual((echo["id"], echo["to"], echo["text"]), (got["id"], "DmBob", "psst"))
        bob.send_json({"type": "message", "text": '/msg "dmalice" back'})
        self.assertEqual(alice.expect(type="private", timeout=5.0)["text"], "back")
        alice.send_json({"type": "message", "room": "dm", "text": "/msg nobody-here hello"})
        err = alice.expect(type="error", timeout=5.0)
        self.assertEqual(err["code"], "no_such_user")
        self.assertIn("nobody-here", err["message"])


    def test_private_frames_reach_every_tab_of_both_people_on_any_node(self):
        """Item 3 with sessions: a {"type":"private"} frame (the browser
        client's DMs) from a tab on node 0 reaches the receiver's tabs on
        nodes 1 and 2 and the sender's other tab on node 2, with one id; the
        sending tab gets it with its client_id; ids of private messages are
        one increasing counter whichever node sends; nobody anywhere is
        no_such_user naming the client_id."""
        ka, kb = "a" * 20 + "dmtabs", "b" * 20 + "dmtabs"

        def tab(node, name, key):
            ws = self.connect("dmroom", srv=node, path="/ws/dmroom?name=%s&session=%s" % (name, key))
            self.assertEqual(ws.expect(type="welcome")["username"], name)
            return ws

        a0, a2 = tab(self.nodes[0], "Ann", ka), tab(self.nodes[2], "Ann", ka)
        b1, b2 = tab(self.nodes[1], "Ben", kb), tab(self.nodes[2], "Ben", kb)
        a0.send_json({"type": "private", "to": "ben", "text": "over here", "client_id": "p1"})
        seen = {}
        for label, ws in (("a0", a0), ("a2", a2), ("b1", b1), ("b2", b2)):
            f = ws.expect(type="private", timeout=5.0)
            seen[label] = f
            self.assertEqual((f["from"], f["to"], f["text"]), ("Ann", "Ben", "over here"), label)
        self.assertEqual(len({f["id"] for f in seen.values()}), 1, seen)
        self.assertEqual(seen["a0"].get("client_id"), "p1")
        self.assertTrue(all("client_id" not in f for k, f in seen.items() if k != "a0"), seen)
        # an answer from the receiver's other node: a later id, everywhere
        b1.send_json({"type": "private", "to": "Ann", "text": "coming", "client_id": "p2"})
        back = [ws.expect(type="private", text="coming", timeout=5.0) for ws in (a0, a2, b1, b2)]
        self.assertEqual(len({f["id"] for f in back}), 1, back)
        self.assertGreater(back[0]["id"], seen["a0"]["id"])
        self.assertEqual(back[2].get("client_id"), "p2")
        # one node, both people there (Ann's and Ben's tabs on node 2): the same counter
        a2.send_json({"type": "private", "to": "Ben", "text": "same node", "client_id": "p3"})
        local = [ws.expect(type="private", text="same node", timeout=5.0) for ws in (a0, a2, b1, b2)]
        self.assertEqual(len({f["id"] for f in local}), 1, local)
        self.assertGreater(local[0]["id"], back[0]["id"])
        a0.send_json({"type": "private", "to": "nobody-at-all", "text": "hello", "client_id": "p4"})
        err = a0.expect(type="error", timeout=5.0)
        self.assertEqual((err["code"], err.get("client_id")), ("no_such_user", "p4"))


class AddressLimit(ClusterCase):
    cluster_opts = {"address_messages_per_second": 2, "address_message_burst": 5}

    def test_flooder_over_three_nodes_is_limited(self):
        """Item 4: one address spread over three nodes shares one budget."""
        room = "flood"
        socks = [self.enter(n, room, "fl%d" % i, source="127.0.0.9")[0] for i, n in enumerate(self.nodes)]
        self.wait_users(socks[0], {"fl0", "fl1", "fl2"}, room)
        t0 = time.monotonic()
        for k in range(10):
            for i, ws in enumerate(socks):
                ws.send_json({"type": "message", "room": room, "text": "f%d-%d" % (i, k), "client_id": "x%d" % k})
        ok = limited = 0
        deadline = time.monotonic() + 5
        while ok + limited < 30 and time.monotonic() < deadline:
            for ws in socks:
                for _op, payload in ws.drain(0.05):
                    f = json.loads(payload)
                    if f.get("type") == "message" and "client_id" in f:
                        ok += 1
                    elif f.get("type") == "error" and f.get("code") == "rate_limited":
                        limited += 1
                        self.assertIn("client_id", f)
                        self.assertGreater(f.get("retry_after_ms", 0), 0)
        took = time.monotonic() - t0
        self.assertEqual(ok + limited, 30, "every message answered (ok %d, limited %d)" % (ok, limited))
        self.assertLessEqual(ok, 5 + int(2 * took) + 1, "burst 5 + 2/s over %.1f s, got %d through" % (took, ok))
        self.assertGreater(limited, 0)


class History(ClusterCase):
    cluster_opts = {"replay": 5, "max_replay": 50}

    def test_replay_paging_and_since_are_the_same_everywhere(self):
        """Item 5: replay on join, paging and ?since= answer alike from every node."""
        room = "hist"
        w, _ = self.enter(self.nodes[0], room, "writer")
        for k in range(20):
            w.send_json({"type": "message", "room": room, "text": "h%d" % k, "client_id": "h%d" % k})
        last = self.messages(w, 20)[-1]["id"]
        answers = []
        for i, node in enumerate(self.nodes):
            r, wel = self.enter(node, room, "reader%d" % i)
            self.assertEqual(wel["last_id"], last)
            replay = self.messages(r, 5)
            self.assertTrue(all(m.get("history") for m in replay))
            r.send_json({"type": "history", "room": room, "before": replay[0]["id"], "limit": 7})
            page = r.expect(type="history", timeout=5.0)
            r.close()
            s, _ = self.enter(node, room, "since%d" % i, since=last - 8)
            since = self.messages(s, 8)
            s.close()
            answers.append(([m["id"] for m in replay], [m["id"] for m in page["messages"]], page["has_more"],
                            [m["id"] for m in since]))
        self.assertEqual(answers[0][0], list(range(last - 4, last + 1)))
        self.assertEqual(answers[0][1], list(range(last - 11, last - 4)))
        self.assertEqual(answers[0][3], list(range(last - 7, last + 1)))
        for a in answers[1:]:
            self.assertEqual(a, answers[0])

    def test_reconnect_to_another_node_while_the_room_talks(self):
        """Item 5: a reader drops off node 0 and comes back with ?since= on node
        1 while a writer keeps sending: it gets exactly what it missed, no hole,
        no duplicate where the replay meets live messages."""
        room = "seam"
        writer, _ = self.enter(self.nodes[2], room, "talker")
        reader, _ = self.enter(self.nodes[0], room, "listener")
        stop = threading.Event()
        sent = []

        def talk():
            k = 0
            while not stop.is_set():
                writer.send_json({"type": "message", "room": room, "text": "t%d" % k})
                sent.append(k)
                k += 1
                time.sleep(0.01)

        t = threading.Thread(target=talk)
        t.start()
        try:
            got = self.messages(reader, 30)
            reader.close_socket()
            time.sleep(0.3)
            back, _ = self.enter(self.nodes[1], room, "listener2", since=got[-1]["id"])
            got += self.messages(back, 60)
        finally:
            stop.set()
            t.join(5)
        ids = [m["id"] for m in got]
        self.assertEqual(ids, list(range(ids[0], ids[0] + len(ids))), "a hole or a duplicate at the seam")

    def test_what_is_no_longer_kept_is_said(self):
        """Item 5: a ?since= older than the retention gets a gap frame first."""
        room = "trim"
        w, _ = self.enter(self.nodes[0], room, "trimmer")
        # the stream keeps at least `retention` (100 here, trimmed in whole nodes of 100)
        for k in range(450):
            w.send_json({"type": "message", "room": room, "text": "x%d" % k})
        last = self.messages(w, 450, timeout=20)[-1]["id"]
        r = self.connect(room, "late", srv=self.nodes[1], since=last - 440)
        r.expect(type="welcome")
        gap = r.expect(type="gap", timeout=5.0)
        self.assertEqual(gap["reason"], "not_retained")
        self.assertEqual(gap["from"], last - 439)
        self.assertTrue(last - 439 <= gap["to"] < last - 99, gap)  # at least the retention is kept
        first = r.expect(type="message", timeout=5.0)  # then the newest max_replay, marked truncated
        self.assertTrue(first.get("truncated"), first)
        self.assertEqual(first["id"], last - 49)


History.cluster_opts = dict(History.cluster_opts, retention=100, address_messages_per_second=0)


if __name__ == "__main__":
    chatdtest.main()
