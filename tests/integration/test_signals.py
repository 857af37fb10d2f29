#!/usr/bin/python3
"""SIGTERM and SIGINT: every client gets close 1001, chatd exits 0 within 2 s."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase  # noqa: E402
import wsclient  # noqa: E402

EXIT_WITHIN_S = 2.0


class SignalsTest(ChatdTestCase):
    """Each test starts its own server (the class one is not used)."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def shutdown_with(self, sig, answer_close=True):
        srv = self.start_server({"plugin me": {}})
        clients = []
        for i, room in enumerate(("one", "one", "two")):
            ws, _ = self.join(room, "sig%d" % i, srv=srv, source="127.0.0.%d" % (i + 1))
            ws.auto_close_reply = answer_close
            clients.append(ws)
        clients[0].expect(type="system", event="join", username="sig1")
        self.assertEqual(srv.healthz()[1].get("connections"), 3)

        t0 = time.monotonic()
        srv.send_signal(sig)
        for ws in clients:
            code, reason = ws.expect_close(timeout=EXIT_WITHIN_S + 1)
            self.assertEqual(code, 1001, "close %r %r on signal %d" % (code, reason, sig))
        rc = srv.wait(max(0.1, EXIT_WITHIN_S - (time.monotonic() - t0)))
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "chatd still running %.1f s after signal %d\n%s" % (took, sig, srv.stderr()))
        self.assertEqual(rc, 0, "exit code %r after signal %d\n%s" % (rc, sig, srv.stderr()))
        self.assertLess(took, EXIT_WITHIN_S)
        # the listening socket is gone too
        with self.assertRaises(OSError):
            wsclient.connect(srv.port, "late", timeout=1)
        for ws in clients:
            ws.close_socket()

    def test_sigterm_closes_1001_and_exits_0(self):
        self.shutdown_with(signal.SIGTERM)

    def test_sigint_closes_1001_and_exits_0(self):
        self.shutdown_with(signal.SIGINT)

    def test_sigterm_with_clients_that_do_not_answer_the_close(self):
        # docs/operations.md: exits 0 within about 1.5 s even if a client does not answer
        self.shutdown_with(signal.SIGTERM, answer_close=False)

    def test_sigterm_idle_server(self):
        srv = self.start_server()
        t0 = time.monotonic()
        self.assertEqual(srv.stop(signal.SIGTERM, timeout=EXIT_WITHIN_S), 0)
        self.assertLess(time.monotonic() - t0, EXIT_WITHIN_S)


if __name__ == "__main__":
    unittest.main(verbosity=2)
