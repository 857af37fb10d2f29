#!/usr/bin/python3
"""Trusted proxies ([server] trusted_proxies): from a trusted peer the client's
address comes from X-Forwarded-For (the rightmost hop not itself trusted) or
RFC 7239 Forwarded; from anyone else those headers are ignored. Plugins see
that address: ratelimit's per-address cap applies per forwarded address
through the trusted proxy (127.0.0.2 here) and per peer otherwise (127.0.0.3);
the probe test plugin refuses one exact address. A malformed header from a
trusted proxy is refused with 400 and the reason. The refusal log names the
client and the proxy. A dual-stack listener (peers as ::ffff:127.0.0.x)
matches IPv4 entries.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import TOP_BUILDDIR, ChatdTestCase  # noqa: E402
from wsclient import WSClient  # noqa: E402

PROXY = "127.0.0.2"
STRANGER = "127.0.0.3"
CAP = 2
PROBE = os.path.join(TOP_BUILDDIR, "tests", "plugins", "probe.so")


class ProxyTest(ChatdTestCase):
    config = {
        "server": {"trusted_proxies": "10.0.0.0/8 %s ::1" % PROXY},
        "plugin ratelimit": {"max_connections_per_address": CAP},
        "plugin probe": {"path": PROBE, "deny_address": "198.51.100.7"},
    }

    def handshake(self, source, headers=None, room="lobby"):
        ws = WSClient(self.port, "/ws/" + room, source=source, headers=headers or {})
        self.addCleanup(ws.close_socket)
        return ws, ws.handshake()

    def open_n(self, n, source, headers):
        """n handshakes that must all succeed (kept open until the test ends)."""
        for i in range(n):
            ws, resp = self.handshake(source, headers)
            self.assertEqual(resp.status, 101, "connection %d: %r" % (i + 1, resp))
            ws.recv_json()  # the welcome: the server has counted this one

    def test_cap_applies_per_forwarded_address(self):
        self.open_n(CAP, PROXY, {"X-Forwarded-For": "203.0.113.1"})
        _, resp = self.handshake(PROXY, {"X-Forwarded-For": "203.0.113.1"})
        self.assertEqual((resp.status, resp.body), (429, b"too many connections from your address\n"))
        # other users behind the same proxy are not punished
        self.open_n(CAP, PROXY, {"X-Forwarded-For": "203.0.113.2"})
        self.open_n(CAP, PROXY, {"X-Forwarded-For": "198.51.100.1, 203.0.113.3, 10.1.2.3"})
        # the client's own claim (left of the first untrusted hop) counts for nothing
        _, resp = self.handshake(PROXY, {"X-Forwarded-For": "192.0.2.99, 203.0.113.3"})
        self.assertEqual(resp.status, 429)

    def test_forwarded_header(self):
        hdr = {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'}
        self.open_n(CAP, PROXY, hdr)
        _, resp = self.handshake(PROXY, {"Forwarded": "for=\"[2001:DB8:CAFE::17]\""})
        self.assertEqual(resp.status, 429)
        self.open_n(1, PROXY, {"Forwarded": "for=192.0.2.60;by=10.0.0.1"})

    def test_untrusted_peer_headers_ignored(self):
        self.open_n(CAP, STRANGER, {"X-Forwarded-For": "203.0.113.50"})
        for hdr in ({"X-Forwarded-For": "203.0.113.51"}, {"Forwarded": "for=203.0.113.52"}, {}):
            _, resp = self.handshake(STRANGER, hdr)
            self.assertEqual(resp.status, 429, hdr)

    def test_plugins_see_the_forwarded_address(self):
        _, resp = self.handshake(PROXY, {"X-Forwarded-For": "198.51.100.7"})
        self.assertEqual((resp.status, resp.body), (429, b"probe says no\n"))
        _, resp = self.handshake(STRANGER, {"X-Forwarded-For": "198.51.100.7"})
        self.assertEqual(resp.status, 101)

    def test_malformed_header_from_trusted_proxy_is_400(self):
        cases = (({"X-Forwarded-For": "chat.example.com"}, "X-Forwarded-For"),
                 ({"X-Forwarded-For": "203.0.113.9:99999"}, "X-Forwarded-For"),
                 ({"Forwarded": "for=\"[2001:db8::1\""}, "Forwarded"))
        for i, (hdr, reason) in enumerate(cases):
            _, resp = self.handshake(PROXY, hdr)
            self.assertEqual((resp.status, resp.body),
                             (400, b"malformed %s header from a trusted proxy\n" % reason.encode()), hdr)
            _, resp = self.handshake("127.0.0.%d" % (4 + i), hdr)  # untrusted: the header means nothing
            self.assertEqual(resp.status, 101, hdr)

    def test_unknown_hop_uses_the_proxy_address(self):
        # "for=unknown" (RFC 7239): the client is unknown, so the proxy's address counts
        _, resp = self.handshake(PROXY, {"Forwarded": "for=unknown"})
        self.assertEqual(resp.status, 101)

    def test_log_names_client_and_proxy(self):
        self.handshake(PROXY, {"X-Forwarded-For": "203.0.113.77"}, room="bad%20room")
        self.handshake(STRANGER, {"X-Forwarded-For": "203.0.113.78"}, room="bad%20room")
        want = ["handshake from 203.0.113.77 (via 127.0.0.2) for /ws/bad room refused: 400 invalid room name",
                "handshake from 127.0.0.3 for /ws/bad room refused: 400 invalid room name"]
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not all(w in self.srv.stderr() for w in want):
            time.sleep(0.05)
        for w in want:
            self.assertIn(w, self.srv.stderr())
        self.assertNotIn("203.0.113.78", self.srv.stderr())


class DualStackProxyTest(ChatdTestCase):
    """Peers of an IPv6 socket bound to ::ffff:127.0.0.1 are ::ffff:127.0.0.x;
    the IPv4 entry 127.0.0.2 must still match, and addresses show as IPv4."""

    config = {
        "server": {"bind": "::ffff:127.0.0.1", "trusted_proxies": PROXY},
        "plugin ratelimit": {"max_connections_per_address": 1},
    }

    def test_v4_mapped_peer_is_trusted(self):
        a = WSClient(self.port, "/ws/lobby", source=PROXY, headers={"X-Forwarded-For": "203.0.113.1"})
        self.addCleanup(a.close_socket)
        self.assertEqual(a.handshake().status, 101)
        a.recv_json()
        b = WSClient(self.port, "/ws/lobby", source=PROXY, headers={"X-Forwarded-For": "203.0.113.2"})
        self.addCleanup(b.close_socket)
        self.assertEqual(b.handshake().status, 101)
        b.recv_json()
        c = WSClient(self.port, "/ws/bad%20room", source=STRANGER)
        self.assertEqual(c.handshake().status, 400)
        deadline = time.monotonic() + 2
        want = "handshake from 127.0.0.3 for /ws/bad room refused"
        while time.monotonic() < deadline and want not in self.srv.stderr():
            time.sleep(0.05)
        self.assertIn(want, self.srv.stderr())  # not ::ffff:127.0.0.3


if __name__ == "__main__":
    unittest.main(verbosity=2)
