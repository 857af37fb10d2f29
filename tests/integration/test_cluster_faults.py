"""Issue 17 items 6-9: failures of a three-node cluster, each against its own
redis-server (AOF on) and chatd nodes, all started, paused, killed and
stopped by PID by the test: a node killed (-9), Redis killed and restarted
under load, Redis paused 10 s, a node paused 20 s, a slow node cut off by
Redis's client-output-buffer-limit."""

import json
import sys
import threading
import time
import unittest

import chatdtest
import clustertest
import wsclient
from clustertest import ClusterNode, RedisServer

clustertest.skip_unless_cluster()


class Recorder:
    """Reads one socket in a thread and keeps every frame with its arrival time."""

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.frames = []  # (monotonic time, dict)
        self.closed = None  # (time, code) when a close frame or EOF came
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                op, payload = self.ws.recv_frame(0.2)
            except wsclient.WSTimeout:
                continue
            except (wsclient.WSClosed, OSError):
                with self.lock:
                    self.closed = (time.monotonic(), None)
                return
            if op == wsclient.OP_CLOSE:
                code = payload[0]  # (code, reason)
                with self.lock:
                    self.closed = (time.monotonic(), code)
                return
            if op == wsclient.OP_TEXT:
                with self.lock:
                    self.frames.append((time.monotonic(), json.loads(payload)))

    def finish(self):
        self.stop.set()
        self.thread.join(5)

    def of(self, **match):
        with self.lock:
            return [f for _, f in self.frames if all(f.get(k) == v for k, v in match.items())]

    def since(self, t0, **match):
        with self.lock:
            return [(t, f) for t, f in self.frames if t >= t0 and all(f.get(k) == v for k, v in match.items())]

    def wait(self, timeout, **match):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of(**match)
            if got:
                return got[0]
            time.sleep(0.05)
        raise AssertionError("%s: no frame %r within %.1f s; last: %r" % (self.label, match, timeout,
                                                                          [f for _, f in self.frames[-5:]]))

    def message_ids(self):
        return [f["id"] for f in self.of(type="message")]


class FaultCase(chatdtest.ChatdTestCase):
    """Each test makes its own Redis and nodes."""

    cluster_opts = {"address_messages_per_second": 0}

    @classmethod
    def setUpClass(cls):
        cls._class_failed = False

    @classmethod
    def tearDownClass(cls):
        pass

    def cluster(self, n=3, redis_extra=None, server=None, **opts):
        self.redis = RedisServer(extra=redis_extra).start()
        self.addCleanup(self.redis.cleanup)
        nodes = []
        for i in range(n):
            node = ClusterNode(self.redis, name="f%d" % i, cluster=dict(self.cluster_opts, **opts),
                               plugins_before={"plugin typing": {}}, server=server)
            self._own_servers.append(node)
            self.addCleanup(node.cleanup)
            self.addCleanup(node.kill)
            node.start()
            nodes.append(node)
        for node in nodes:
            node.wait_log("registered as node")
        return nodes

    def enter(self, node, room, name, **kw):
        ws = node.connect(room, name, **kw)
        self.addCleanup(ws.close_socket)
        welcome = ws.expect(type="welcome", timeout=5.0)
        return ws, welcome

    def who_until(self, ws, room, want, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            ws.send_json({"type": "who", "room": room})
            got = set(ws.expect(type="users", timeout=5.0)["users"])
            if got == set(want):
                return
            if time.monotonic() > deadline:
                self.fail("who: %r, want %r" % (sorted(got), sorted(want)))
            time.sleep(0.1)

    def history_ids(self, node, room, name="auditor"):
        """Every id the room's record holds (paged from one node)."""
        ws, w = self.enter(node, room, name)
        ids, before = [], w["last_id"] + 1
        while True:
            ws.send_json({"type": "history", "room": room, "before": before, "limit": 200})
            page = ws.expect(type="history", timeout=5.0)
            ids = [m["id"] for m in page["messages"]] + ids
            if not page["has_more"] or not page["messages"]:
                break
            before = page["messages"][0]["id"]
        ws.close()
        return ids


class NodeKilled(FaultCase):
    def test_kill_minus_9_a_node(self):
        """Item 6: the others show its users' leaves within 10 s, their names
        are free again, no acknowledged message is lost."""
        a, b, c = self.cluster()
        room = "k9"
        alice, _ = self.enter(a, room, "alice")
        bob, _ = self.enter(b, room, "bob")
        carol, _ = self.enter(c, room, "carol")
        self.who_until(alice, room, {"alice", "bob", "carol"})
        ra, rb = Recorder(alice, "alice"), Recorder(bob, "bob")
        acked = []
        for k in range(20):
            carol.send_json({"type": "message", "room": room, "text": "c%d" % k, "client_id": "q%d" % k})
        for k in range(20):
            acked.append(carol.expect(type="message", client_id="q%d" % k, timeout=5.0)["id"])
        t0 = time.monotonic()
        c.kill()  # SIGKILL
        for rec in (ra, rb):
            left = rec.wait(10.0, type="system", event="leave", username="carol")
            took = [t for t, f in rec.frames if f is left][0] - t0
            self.assertLess(took, 10.0, "%s saw carol leave after %.1f s" % (rec.label, took))
            print("node killed: %s saw the leave after %.2f s" % (rec.label, took), file=sys.stderr)
        ra.finish()
        rb.finish()
        again, w = self.enter(a, room, "Carol")
        self.assertEqual(w["username"], "Carol", "carol's name is still held")
        ids = self.history_ids(b, room)
        self.assertTrue(set(acked) <= set(ids), "acknowledged ids lost: %r" % sorted(set(acked) - set(ids)))
        for rec in (ra, rb):
            self.assertTrue(set(acked) <= set(rec.message_ids()))


class RedisKilled(FaultCase):
    def test_redis_kill_and_restart_under_load(self):
        """Item 7: sends during the outage get an error within 2 s, every
        WebSocket stays open, the nodes reconnect (no spin, bounded memory),
        resubscribe, fill the gap, and nothing acknowledged is lost."""
        nodes = self.cluster()
        room = "outage"
        readers = []
        writers = []
        for i, node in enumerate(nodes):
            ws, _ = self.enter(node, room, "r%d" % i)
            readers.append(Recorder(ws, "r%d" % i))
            ww, _ = self.enter(node, room, "w%d" % i)
            writers.append(ww)
        wrecs = [Recorder(w, "w%d" % i) for i, w in enumerate(writers)]
        sent = {}  # client_id -> (time sent, text)
        stop = threading.Event()

        def write(i):
            k = 0
            while not stop.is_set():
                cid = "w%d-%d" % (i, k)
                sent[cid] = (time.monotonic(), cid)
                try:
                    writers[i].send_json({"type": "message", "room": room, "text": cid, "client_id": cid})
                except OSError:
                    return
                k += 1
                time.sleep(0.02)

        threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            rss0 = [n.rss_kb() for n in nodes]
            self.redis.kill()
            t_kill = time.monotonic()
            cpu0 = [n.cpu_seconds() for n in nodes]
            time.sleep(3.0)
            cpu = [(n.cpu_seconds() - c0) / (time.monotonic() - t_kill) for n, c0 in zip(nodes, cpu0)]
            rss1 = [n.rss_kb() for n in nodes]
            self.redis.restart()
            t_back = time.monotonic()
            time.sleep(4.0)
        finally:
            stop.set()
            for t in threads:
                t.join(5)
        time.sleep(2.0)
        for r in readers + wrecs:
            r.finish()
        # every socket stayed open
        for r in readers + wrecs:
            self.assertIsNone(r.closed, "%s was closed" % r.label)
        # answers: every send made during the outage got its error within 2 s
        answered = {}
        for r in wrecs:
            for t, f in r.frames:
                if f.get("client_id"):
                    answered.setdefault(f["client_id"], (t, f))
        late = []
        for cid, (t_sent, _) in sent.items():
            if t_kill + 0.1 < t_sent < t_back - 0.5:
                t_ans, f = answered.get(cid, (None, None))
                if t_ans is None or t_ans - t_sent > 2.0:
                    late.append((cid, None if t_ans is None else round(t_ans - t_sent, 2), f))
        self.assertEqual(late, [], "sends during the outage not answered within 2 s")
        waits = [answered[c][0] - t for c, (t, _) in sent.items() if t_kill + 0.1 < t < t_back - 0.5 and c in answered]
        print("redis killed: %d sends during the outage, each answered within %.2f s" %
              (len(waits), max(waits) if waits else 0), file=sys.stderr)
        errors = [f for _, f in answered.values() if f.get("type") == "error"]
        self.assertTrue(errors, "no send failed while Redis was down?")
        print("redis killed: %d errors (unavailable), %d acknowledged" %
              (len(errors), sum(1 for _, f in answered.values() if f.get("type") == "message")), file=sys.stderr)
        self.assertTrue(all(f["code"] == "unavailable" for f in errors), errors[:3])
        # nothing acknowledged is lost, everything in order, once, on every node
        acked = {f["id"]: f["text"] for _, f in answered.values() if f.get("type") == "message"}
        ids = self.history_ids(nodes[0], room)
        self.assertTrue(set(acked) <= set(ids), "acknowledged but lost: %r" % sorted(set(acked) - set(ids))[:10])
        for r in readers:
            got = r.message_ids()
            self.assertEqual(got, sorted(set(got)), "%s: out of order or twice" % r.label)
            self.assertTrue(set(acked) <= set(got), "%s missed acknowledged ids %r" %
                            (r.label, sorted(set(acked) - set(got))[:10]))
        # no spin, memory bounded while Redis was away
        for n, c, r0, r1 in zip(nodes, cpu, rss0, rss1):
            print("redis killed: %s CPU %.1f%%, RSS %+d kB during the outage" % (n.name, c * 100, r1 - r0),
                  file=sys.stderr)
            self.assertLess(c, 0.25, "%s used %.0f%% CPU during the outage" % (n.name, c * 100))
            self.assertLess(r1 - r0, 20000, "%s grew %d kB during the outage" % (n.name, r1 - r0))


class RedisPaused(FaultCase):
    def test_redis_sigstop_10s(self):
        """Item 8: Redis stopped 10 s: memory bounded, no mass leave, no name stolen."""
        nodes = self.cluster()
        room = "pause"
        socks = [self.enter(n, room, "p%d" % i)[0] for i, n in enumerate(nodes)]
        self.who_until(socks[0], room, {"p0", "p1", "p2"})
        recs = [Recorder(ws, "p%d" % i) for i, ws in enumerate(socks)]
        rss0 = [n.rss_kb() for n in nodes]
        self.redis.pause()
        t0 = time.monotonic()
        sent_at = {}
        try:
            for k in range(50):  # sends meanwhile fail (within 2 s: the request timeout); nothing piles up
                sent_at["z%d" % k] = time.monotonic()
                socks[k % 3].send_json({"type": "message", "room": room, "text": "z%d" % k, "client_id": "z%d" % k})
                time.sleep(0.1)
            time.sleep(max(0.0, 10.0 - (time.monotonic() - t0)))
            rss1 = [n.rss_kb() for n in nodes]
        finally:
            self.redis.resume()
        time.sleep(4.0)  # beats resume; a reaper that miscounted would strike now
        for r in recs:
            r.finish()
        answers = {}
        for r in recs:
            for t, f in r.since(t0, type="error"):
                answers.setdefault(f.get("client_id"), (t, f["code"]))
        slow = {c: round(answers[c][0] - t, 2) if c in answers else None for c, t in sent_at.items()
                if c not in answers or answers[c][0] - t > 2.0}
        self.assertEqual(slow, {}, "sends while Redis was stopped not answered within 2 s")
        self.assertEqual({code for _, code in answers.values()}, {"unavailable"})
        print("redis paused: %d sends, each answered unavailable within %.2f s" %
              (len(sent_at), max(answers[c][0] - t for c, t in sent_at.items())), file=sys.stderr)
        for r in recs:
            leaves = [f for f in r.of(type="system") if f.get("event") in ("leave", "presence")]
            self.assertEqual(leaves, [], "%s saw people leave: %r" % (r.label, leaves[:3]))
            self.assertIsNone(r.closed)
        self.who_until(socks[0], room, {"p0", "p1", "p2"})
        for i, n in enumerate(nodes):
            _, w = self.enter(n, room, "p%d" % ((i + 1) % 3))
            self.assertNotEqual(w["username"], "p%d" % ((i + 1) % 3), "a held name was given away")
        for n, a, b in zip(nodes, rss0, rss1):
            print("redis paused: %s RSS %+d kB" % (n.name, b - a), file=sys.stderr)
            self.assertLess(b - a, 20000, "%s grew %d kB while Redis was stopped" % (n.name, b - a))
        # Item 1: a send answered `unavailable` may or may not be in Redis (it
        # may have read the request before the node gave up on it): each one
        # sent again with the same client_id on the same connection is
        # answered with one message, and the room holds each text once.
        recs = [Recorder(ws, "p%d" % i) for i, ws in enumerate(socks)]
        t1 = time.monotonic()
        for k in range(50):
            socks[k % 3].send_json({"type": "message", "room": room, "text": "z%d" % k, "client_id": "z%d" % k})
        deadline = time.monotonic() + 10.0
        retried = {}
        while len(retried) < 50 and time.monotonic() < deadline:
            for i, r in enumerate(recs):
                for _t, f in r.since(t1, type="message"):
                    cid = f.get("client_id")
                    if cid and int(cid[1:]) % 3 == i:
                        retried.setdefault(cid, f)
            time.sleep(0.05)
        for r in recs:
            r.finish()
        self.assertEqual(sorted(retried, key=lambda c: int(c[1:])), ["z%d" % k for k in range(50)],
                         "retries not answered with their message")
        dups = sum(1 for f in retried.values() if f.get("duplicate"))
        self.assertTrue(all(f["text"] == cid for cid, f in retried.items()), retried)
        self.assertEqual(len({f["id"] for f in retried.values()}), 50, "two retries answered with one id")
        ws, w = self.enter(nodes[1], room, "reader", since=0)
        texts = [f["text"] for f in (ws.expect(type="message", timeout=5.0) for _ in range(w["last_id"]))]
        ws.close()
        for k in range(50):
            self.assertEqual(texts.count("z%d" % k), 1, "z%d stored %d times" % (k, texts.count("z%d" % k)))
        print("redis paused: the 50 sends retried with their client_id: %d were in Redis already "
              "(answered duplicate), %d stored now; each text once in the room" % (dups, 50 - dups),
              file=sys.stderr)


class NodePaused(FaultCase):
    def test_node_sigstop_20s_is_fenced(self):
        """Item 8: a node paused 20 s is reaped by the others; when it resumes
        it learns it was fenced and closes its clients with 1012, and they
        recover with ?since= on another node."""
        a, b, c = self.cluster()
        room = "fence"
        alice, _ = self.enter(a, room, "alice")
        carol, _ = self.enter(c, room, "carol")
        self.who_until(alice, room, {"alice", "carol"})
        alice.send_json({"type": "message", "room": room, "text": "before", "client_id": "b0"})
        last = carol.expect(type="message", text="before", timeout=5)["id"]
        ra, rc = Recorder(alice, "alice"), Recorder(carol, "carol")
        c.pause()
        t0 = time.monotonic()
        try:
            ra.wait(10.0, type="system", event="leave", username="carol")
            print("node paused: reaped, alice saw carol leave after %.2f s" % (time.monotonic() - t0),
                  file=sys.stderr)
            for k in range(10):
                alice.send_json({"type": "message", "room": room, "text": "during%d" % k})
            time.sleep(max(0.0, 20.0 - (time.monotonic() - t0)))
        finally:
            c.resume()
        deadline = time.monotonic() + 5.0
        while rc.closed is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNotNone(rc.closed, "carol's socket was not closed after the node resumed")
        self.assertEqual(rc.closed[1], 1012)
        print("node paused: carol's socket closed with %d %.2f s after the resume" %
              (rc.closed[1], rc.closed[0] - (t0 + 20.0)), file=sys.stderr)
        c.wait_log("was fenced")
        back, w = self.enter(b, room, "carol", since=last)
        missed = [back.expect(type="message", timeout=5.0)["text"] for _ in range(10)]
        self.assertEqual(missed, ["during%d" % k for k in range(10)])
        ra.finish()
        rc.finish()


class SlowNodeCut(FaultCase):
    def test_cut_by_output_buffer_limit_then_refilled(self):
        """Item 9: Redis cuts a node whose subscription falls behind; the node
        notices, subscribes again and fills the gap: its client gets every
        message, in order, once."""
        # the reader's queue must hold the refill (8 MB): it is not the slow one here.
        # The lease is 30 s: node b is stopped for as long as 8 MB take to send,
        # which on a busy machine can pass the default 5 s lease, and being fenced
        # (item 8, tested on its own) is not what this test is about.
        a, b = self.cluster(n=2, redis_extra={"client-output-buffer-limit": "pubsub 256kb 128kb 1"},
                            server={"send_queue_bytes": "64M", "send_queue_soft_bytes": "32M"}, lease_beats=60)
        room = "cut"
        writer, _ = self.enter(a, room, "writer")
        reader, _ = self.enter(b, room, "reader")
        self.who_until(writer, room, {"writer", "reader"})
        rr = Recorder(reader, "reader")
        after = len(b.stderr())
        b.pause()
        try:
            # 8 MB for b's subscription: more than the kernel's socket buffers
            # take, so Redis's output buffer for b passes the 256 KB limit
            big = "x" * 4000
            n, window = 2000, 100
            acked = {}  # client_id -> id

            def send(k):
                writer.send_json({"type": "message", "room": room, "text": "%d %s" % (k, big),
                                  "client_id": "k%d" % k})

            # in windows of 100, each acknowledged before the next: 2,000 requests
            # queued at once wait more than request_timeout_ms for Redis on a busy
            # machine; a send answered `unavailable` is sent again with its
            # client_id, as the protocol says (a retry is never stored twice)
            retries = 0
            for start in range(0, n, window):
                waiting = {"k%d" % k for k in range(start, min(n, start + window))}
                for k in range(start, min(n, start + window)):
                    send(k)
                while waiting:
                    f = writer.recv_json(timeout=10.0)
                    cid = f.get("client_id")
                    if cid not in waiting:
                        continue
                    if f.get("type") == "message":
                        acked[cid] = f["id"]
                        waiting.discard(cid)
                    elif f.get("type") == "error" and f.get("code") == "unavailable":
                        retries += 1
                        self.assertLess(retries, 200, "Redis kept failing the writer's sends")
                        send(int(cid[1:]))
                    else:
                        self.fail("writer: %r" % f)
            ids = sorted(acked.values())
            self.assertEqual(len(set(ids)), n, "two sends answered with one id")
            time.sleep(0.5)
        finally:
            b.resume()
            t_resume = time.monotonic()
        b.wait_log("redis subscription connection lost", timeout=5.0, after=after)
        deadline = time.monotonic() + 10.0
        while set(ids) - set(rr.message_ids()) and time.monotonic() < deadline:
            time.sleep(0.1)
        rr.finish()
        print("slow node cut: %d messages (%d sends retried after unavailable), all delivered %.2f s after the resume" %
              (len(ids), retries, max(t for t, f in rr.frames if f.get("type") == "message") - t_resume), file=sys.stderr)
        self.assertIsNone(rr.closed, "the reader was closed")
        got = rr.message_ids()
        self.assertEqual(got, sorted(set(got)), "out of order or twice")
        self.assertTrue(set(ids) <= set(got), "missing %d messages" % len(set(ids) - set(got)))


if __name__ == "__main__":
    chatdtest.main()
