#!/usr/bin/python3
"""Running out of sockets: max_connections and a process fd limit nearly used up.

chatd accepts connections itself (src/listener.c). Past max_connections, or
when accept() fails for want of fds, each pending connection is answered
`503 Service Unavailable` and closed: the server neither spins on a listening
socket it cannot drain nor floods its log, clients already connected keep
chatting, and once sockets are released new clients get in again.
The silent sockets come from 127.0.0.3 (a hostile address, not the chatters').
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdServer, main  # noqa: E402
from test_hostile_util import metrics, wait_for  # noqa: E402

HOSTILE = "127.0.0.3"


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_silent(port, n):
    """n TCP connections from HOSTILE that never send a byte."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((HOSTILE, 0))
        s.settimeout(2.0)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def reply_of(sock, timeout=2.0):
    """What the server wrote before closing (b'' if it said nothing)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def close_all(socks):
    for s in socks:
        s.close()


class MaxConnections(unittest.TestCase):
    def test_past_max_connections_new_sockets_get_503_and_chat_goes_on(self):
        srv = ChatdServer({"server": {"max_connections": 20, "handshake_timeout": 30}}).start()
        try:
            chatter = srv.connect("lobby", "alice")
            chatter.expect("welcome")
            silent = open_silent(srv.port, 19)  # alice + 19 = 20: the server is full
            time.sleep(0.3)  # (a /metrics request would itself be refused now)
            extra = open_silent(srv.port, 5)
            replies = [reply_of(s) for s in extra]
            for r in replies:
                self.assertTrue(r.startswith(b"HTTP/1.1 503 "), r[:80])
            close_all(extra)
            silent.pop().close()
            m = wait_for(lambda: self._metrics_or_none(srv), 5.0)
            self.assertGreaterEqual(m['chatd_refused_total{reason="max_connections"}'], 5)
            # alice still chats
            chatter.send_json({"type": "message", "text": "still here"})
            self.assertEqual(chatter.expect("message")["text"], "still here")
            close_all(silent)
            self.assertTrue(wait_for(lambda: metrics(srv)["chatd_sockets"] <= 2, 5.0),
                            "sockets return to alice + the metrics request")
            bob = srv.connect("lobby", "bob")
            self.assertEqual(bob.expect("welcome")["type"], "welcome")
            bob.close()
            chatter.close()
        finally:
            srv.stop()


    @staticmethod
    def _metrics_or_none(srv):
        try:
            return metrics(srv)
        except AssertionError:  # 503 while still full
            return None


class FdLimitNearlyUsed(unittest.TestCase):
    NOFILE = 64

    def test_out_of_fds_no_busy_loop_no_log_flood_and_recovery(self):
        srv = ChatdServer({"server": {"handshake_timeout": 30}}, nofile=self.NOFILE).start()
        try:
            alice = srv.connect("lobby", "alice")
            alice.expect("welcome")
            # Far more connections than fds: the kernel completes them (backlog),
            # chatd takes what fits and answers the rest 503 from its spare fd.
            silent = []
            refused = 0
            for _ in range(self.NOFILE + 40):
                s = open_silent(srv.port, 1)[0]
                silent.append(s)
            time.sleep(0.5)
            for s in silent:
                s.settimeout(0.05)
                try:
                    data = s.recv(4096)
                except (socket.timeout, ConnectionResetError):
                    continue
                if data.startswith(b"HTTP/1.1 503 "):
                    refused += 1
            self.assertGreater(refused, 0, "some connections were answered 503")
            # Now hold the process at its limit with more connections waiting in
            # the backlog for 2 s: chatd must not spin.
            waiting = open_silent(srv.port, 10)
            cpu0, t0 = cpu_seconds(srv.pid), time.monotonic()
            time.sleep(2.0)
            cpu = cpu_seconds(srv.pid) - cpu0
            wall = time.monotonic() - t0
            print("\n  fd limit %d: %d refused with 503; %.2f s CPU in %.1f s at the limit"
                  % (self.NOFILE, refused, cpu, wall), file=sys.stderr)
            self.assertLess(cpu, 0.5 * wall, "no busy loop at the fd limit")
            # alice (connected before) still chats
            alice.send_json({"type": "message", "text": "through the storm"})
            self.assertEqual(alice.expect("message")["text"], "through the storm")
            close_all(silent)
            close_all(waiting)
            # released fds: new clients get in again
            bob = wait_for(lambda: self._try_connect(srv, "bob"), 5.0)
            self.assertIsNotNone(bob, "a client connects once fds are free again")
            bob.close()
            alice.close()
            m = metrics(srv)
            self.assertGreater(m['chatd_refused_total{reason="out_of_fds"}'], 0)
            warnings = srv.stderr().count("out of file descriptors")
            self.assertGreaterEqual(warnings, 1, "the condition is logged")
            self.assertLessEqual(warnings, 2, "at most one warning per 10 s, no log flood")
        finally:
            srv.stop()

    @staticmethod
    def _try_connect(srv, name):
        try:
            c = srv.connect("lobby", name)
            c.expect("welcome")
            return c
        except (OSError, AssertionError):
            return None


if __name__ == "__main__":
    main()
