"""The cluster plugin's footing: Redis persistence is required (issue 17 item
10), nodes register and deregister, survive Redis going away and coming back
(backoff, no spin), and notice a subscription that dies silently (item 9)."""

import os
import sys
import subprocess
import time
import unittest

import chatdtest
import clustertest
from clustertest import ClusterNode, FreezingProxy, RedisServer

clustertest.skip_unless_cluster()


class RedisTestCase(chatdtest.ChatdTestCase):
    """No chatd of the class's own; each test starts Redis and nodes itself."""

    @classmethod
    def setUpClass(cls):
        cls._class_failed = False

    @classmethod
    def tearDownClass(cls):
        pass

    def redis(self, **kw):
        r = RedisServer(**kw).start()
        self.addCleanup(r.cleanup)
        return r

    def node(self, redis, name="node", **kw):
        n = ClusterNode(redis, name=name, **kw)
        self._own_servers.append(n)
        self.addCleanup(n.cleanup)
        self.addCleanup(n.kill)
        n.start()
        self.addCleanup(self._stop_checked, n)
        return n


class Persistence(RedisTestCase):
    def check_config(self, redis, **cluster):
        """chatd -t on a config with the cluster plugin: (exit code, output)."""
        n = ClusterNode(redis, cluster=cluster)
        n.tmp = self.enterContext_tmp()
        path = os.path.join(n.tmp, "chatd.conf")
        chatdtest.write_config(path, n.config)
        p = subprocess.run([chatdtest.CHATD, "-t", "-c", path, "-P", chatdtest.PLUGIN_DIR, "-D",
                            os.path.join(n.tmp, "data")], capture_output=True, timeout=20)
        return p.returncode, (p.stdout + p.stderr).decode()

    def enterContext_tmp(self):
        import tempfile
        import shutil
        d = tempfile.mkdtemp(prefix="chatd-it-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_refuses_redis_without_aof(self):
        redis = self.redis(appendonly=False)
        rc, out = self.check_config(redis)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("appendonly no", out)
        self.assertIn("allow_no_persistence", out)
        self.assertIn("plugin cluster", out)  # FILE:LINE: plugin cluster: ...
        # and a real start refuses as well
        n = ClusterNode(redis)
        self.addCleanup(n.cleanup)
        with self.assertRaises(AssertionError) as cm:
            n.start(attempts=1)
        self.assertIn("appendonly no", str(cm.exception))

    def test_opt_out_runs_and_warns(self):
        redis = self.redis(appendonly=False)
        rc, out = self.check_config(redis, allow_no_persistence="yes")
        self.assertEqual(rc, 0, out)
        n = self.node(redis, cluster={"allow_no_persistence": "yes"})
        n.wait_log("allow_no_persistence = yes")
        n.wait_log("registered as node")

    def test_aof_accepted_and_functions_loaded(self):
        redis = self.redis()
        rc, out = self.check_config(redis)
        self.assertEqual(rc, 0, out)
        libs = redis.call("FUNCTION", "LIST", "LIBRARYNAME", "chatd")
        self.assertEqual(len(libs), 1, libs)

    def test_history_plugin_is_refused_alongside(self):
        """In cluster mode the record is in Redis: a config that also loads the
        history plugin is refused, saying why."""
        redis = self.redis()
        n = ClusterNode(redis, plugins_before={"plugin history": {}})
        tmp = self.enterContext_tmp()
        path = os.path.join(tmp, "chatd.conf")
        chatdtest.write_config(path, n.config)
        p = subprocess.run([chatdtest.CHATD, "-t", "-c", path, "-P", chatdtest.PLUGIN_DIR, "-D",
                            os.path.join(tmp, "data")], capture_output=True, timeout=20)
        out = (p.stdout + p.stderr).decode()
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("the room history is in Redis", out)

    def test_unreachable_redis_is_named(self):
        port = chatdtest.free_port()
        r = RedisServer()
        r.port = port  # nobody listens there
        rc, out = self.check_config(r)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("cannot reach Redis at 127.0.0.1:%d" % port, out)


class Lifecycle(RedisTestCase):
    def nodes_in_redis(self, redis):
        return [k.decode() for k in redis.call("HKEYS", "chatd:nodes")]

    def test_register_and_clean_stop(self):
        redis = self.redis()
        n = self.node(redis, name="alpha")
        n.wait_log("registered as node alpha-")
        ids = self.nodes_in_redis(redis)
        self.assertEqual(len(ids), 1, ids)
        self.assertTrue(ids[0].startswith("alpha-"), ids)
        n.stop()
        self.assertEqual(self.nodes_in_redis(redis), [])

    def test_redis_gone_and_back(self):
        """kill -9 Redis: new handshakes get 503 (the socket that is open stays
        open), the node retries with backoff without spinning, and serves
        again once Redis is back."""
        redis = self.redis()
        n = self.node(redis, name="beta")
        n.wait_log("registered as node")
        ws, _ = self.join(srv=n, name="Ann")
        redis.kill()
        t0 = time.monotonic()
        while True:  # the node notices within a heartbeat or two
            try:
                probe = n.connect("general", "Bob")
                probe.close()
            except AssertionError as e:
                self.assertIn("503", str(e))
                break
            self.assertLess(time.monotonic() - t0, 3.0, "still accepting without Redis")
            time.sleep(0.1)
        cpu0, w0 = n.cpu_seconds(), time.monotonic()
        time.sleep(3.0)
        cpu = (n.cpu_seconds() - cpu0) / (time.monotonic() - w0)
        self.assertLess(cpu, 0.10, "chatd used %.0f%% of a core while Redis was away" % (cpu * 100))
        log = n.stderr()
        self.assertLess(log.count("connection lost"), 4, log[-3000:])  # logged once per link, not per attempt
        ws.send_json({"type": "who"})  # the open socket still works
        ws.expect(type="users")
        after = len(n.stderr())
        redis.restart()
        n.wait_log("redis command connection up again", timeout=5.0, after=after)
        deadline = time.monotonic() + 5.0
        while True:
            try:
                ws2, _ = self.join(srv=n, name="Bob")
                break
            except AssertionError:
                self.assertLess(time.monotonic(), deadline, "no handshake accepted after Redis came back")
                time.sleep(0.1)
        ws2.close()


class TwoNodesOnePort(RedisTestCase):
    def test_reuse_port_shares_one_port_and_one_chat(self):
        """README's two nodes on one machine: reuse_port lets both listen on one
        port, the kernel spreads the connections, and the cluster makes them
        one chat."""
        redis = self.redis()
        a = self.node(redis, name="rpa", server={"reuse_port": "on"})
        b = ClusterNode(redis, name="rpb", server={"reuse_port": "on"})
        b.fixed_port = a.port
        self._own_servers.append(b)
        self.addCleanup(b.cleanup)
        self.addCleanup(b.kill)
        b.start(attempts=1)
        self.addCleanup(self._stop_checked, b)
        b.wait_log("registered as node")
        socks = [self.connect("one", "p%d" % i, srv=a) for i in range(16)]
        for ws in socks:
            ws.expect(type="welcome")
        deadline = time.monotonic() + 5
        while True:
            socks[0].send_json({"type": "who"})
            users = socks[0].expect(type="users")
            if users["user_count"] == 16:
                break
            self.assertLess(time.monotonic(), deadline, users)
            time.sleep(0.1)
        # which node holds whom: Redis's presence entries are "node NUL name"
        holders = {k.split(b"\0")[0].decode().split("-")[0] for k in redis.call("HKEYS", "chatd:pm:{one}")}
        self.assertEqual(holders, {"rpa", "rpb"}, "the kernel gave every connection to one node")


class RecordLost(RedisTestCase):
    def test_a_room_record_lost_is_said_not_swallowed(self):
        """When a room's record is gone from Redis (a Redis without persistence
        restarted), its ids start again at 1: the node says so with a gap
        "reset" frame and delivers the new messages, rather than dropping
        them as old; a reconnect with ?since= beyond the record hears the same."""
        redis = self.redis()
        n = self.node(redis, name="lost")
        n.wait_log("registered as node")
        ws, _ = self.join(srv=n, name="Keeper", room="lost")
        for k in range(3):
            ws.send_json({"type": "message", "text": "old %d" % k})
        last = [ws.expect(type="message")["id"] for _ in range(3)][-1]
        self.assertEqual(last, 3)
        redis.call("DEL", "chatd:m:{lost}", "chatd:s:{lost}")
        redis.call("CLIENT", "KILL", "TYPE", "pubsub")  # the node subscribes again and syncs
        gap = ws.expect(type="gap", timeout=5.0)
        self.assertEqual((gap["reason"], gap["last_id"]), ("reset", 0))
        ws.send_json({"type": "message", "text": "new"})
        self.assertEqual(ws.expect(type="message", text="new")["id"], 1)
        again = self.connect("lost", "Back", srv=n, since=last)
        again.expect(type="welcome")
        self.assertEqual(again.expect(type="gap")["reason"], "reset")


class SilentSubscription(RedisTestCase):
    def test_silent_subscription_noticed_within_2s(self):
        redis = self.redis()
        proxy = FreezingProxy(redis.port)
        self.addCleanup(proxy.close)
        n = ClusterNode(redis, name="gamma", cluster={"redis": "127.0.0.1:%d" % proxy.port})
        self._own_servers.append(n)
        self.addCleanup(n.cleanup)
        self.addCleanup(n.kill)
        n.start()
        self.addCleanup(self._stop_checked, n)
        n.wait_log("registered as node")
        time.sleep(1.0)  # a few beats come back through the subscription
        subs = proxy.subscribes
        after = len(n.stderr())
        t0 = time.monotonic()
        proxy.freeze(b"SUBSCRIBE")  # the subscription connection stays open but delivers nothing
        n.wait_log("subscription silent", timeout=3.0, after=after)
        took = time.monotonic() - t0
        print("silent subscription noticed after %.2f s" % took, file=sys.stderr)
        self.assertLess(took, 2.0, "a silent subscription was noticed only after %.2f s" % took)
        deadline = time.monotonic() + 3.0
        while proxy.subscribes <= subs:  # it subscribes again on a new connection
            self.assertLess(time.monotonic(), deadline, "no new SUBSCRIBE after the silent one")
            time.sleep(0.05)


if __name__ == "__main__":
    chatdtest.main()
