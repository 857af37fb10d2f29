#!/usr/bin/python3
"""A client that never reads must not stall its room nor grow the server:
it is closed with 1013 once send_queue_bytes is queued for it, while a
normal reader in the same room gets every message in order."""

import json
import os
import re
import select
import sys
import time
import unittest

SANITIZED = bool(os.environ.get("CHATD_SANITIZED"))  # tests/sanitize.sh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, http_request  # noqa: E402
from wsclient import OP_CLOSE, OP_TEXT, WSClosed, build_frame  # noqa: E402

SEND_QUEUE = 256 * 1024
SOFT_QUEUE = 64 * 1024
TOTAL_BYTES = 5 * 1024 * 1024
MSG_BYTES = 3000
COUNT = TOTAL_BYTES // MSG_BYTES  # about 1750 messages
RSS_BOUND_KB = 64 * 1024  # the server may grow by at most 64 MiB during the flood
DEADLINE_S = 30
WINDOW = 40


def metric(port, name):
    _, _, body = http_request(port, "/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), body.decode(), re.M)
    return int(m.group(1)) if m else None


class SlowConsumerTest(ChatdTestCase):
    config = {"server": {"send_queue_bytes": "256k", "send_queue_soft_bytes": "64k"}}
    io_uring = True

    def wait_connections(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.srv.healthz()[1].get("connections") == n:
                return True
            time.sleep(0.05)
        return False

    def flood(self, room, reader, publisher, samples):
        """Publish COUNT messages of MSG_BYTES while reading reader and publisher;
        returns the message frames the reader got."""
        got = {id(reader): [], id(publisher): []}
        sent = 0
        deadline = time.monotonic() + DEADLINE_S
        pad = "x" * (MSG_BYTES - 20)
        while len(got[id(reader)]) < COUNT or len(got[id(publisher)]) < COUNT:
            if time.monotonic() > deadline:
                self.fail("flood not delivered within %ds: sent %d, reader got %d, publisher got %d"
                          % (DEADLINE_S, sent, len(got[id(reader)]), len(got[id(publisher)])))
            # A well-behaved publisher: at most WINDOW messages (~120 KB) not yet
            # delivered to the readers, so the normal readers are never "slow".
            in_flight = sent - min(len(got[id(reader)]), len(got[id(publisher)]))
            want_write = [publisher.sock] if sent < COUNT and in_flight < WINDOW else []
            r, w, _ = select.select([reader.sock, publisher.sock], want_write, [], 0.5)
            if w:
                batch = b"".join(build_frame(OP_TEXT, json.dumps({"type": "message", "text": "%06d %s" % (i, pad)}))
                                 for i in range(sent, min(COUNT, sent + 8)))
                publisher.send_raw(batch)
                sent = min(COUNT, sent + 8)
                if sent % 200 < 8:
                    samples.append(self.srv.rss_kb())
            for s in r:
                ws = reader if s is reader.sock else publisher
                if not ws.pump():
                    self.fail("%s was disconnected: %s" % ("reader" if ws is reader else "publisher",
                                                           ws.history()))
                for op, payload in ws.buffered_frames():
                    self.assertEqual(op, OP_TEXT, payload)
                    m = json.loads(payload)
                    if m.get("type") == "message":
                        got[id(ws)].append(m)
                    elif m.get("type") == "error":
                        self.fail("error: %r" % m)
        return got[id(reader)], got[id(publisher)]

    def check_in_order(self, msgs, who):
        seqs = [int(m["text"][:6]) for m in msgs]
        self.assertEqual(seqs, list(range(COUNT)), "%s: messages lost, duplicated or reordered" % who)
        ids = [m["id"] for m in msgs]
        self.assertTrue(all(a < b for a, b in zip(ids, ids[1:])), "%s: ids not strictly increasing" % who)

    def read_slow(self, slow):
        """Read the slow client's socket until its close frame (or EOF); return
        (close code or None, message seqs received before it)."""
        seqs = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                op, payload = slow.recv_frame(max(0.1, deadline - time.monotonic()))
            except WSClosed:
                return None, seqs
            if op == OP_CLOSE:
                return payload[0], seqs
            if op == OP_TEXT:
                m = json.loads(payload)
                if m.get("type") == "message":
                    seqs.append(int(m["text"][:6]))
        self.fail("the slow client saw neither a close frame nor EOF within 15 s after reading "
                  "(%d messages read)" % len(seqs))

    def test_slow_client_closed_1013_room_keeps_flowing(self):
        room = "slowroom"
        reader, _ = self.join(room, "reader")
        # a tiny receive window, set before connect: the server's writes back up at once
        slow = self.connect(room, "sloth", rcvbuf=4096)
        reader.expect(type="system", event="join", username="sloth")
        publisher, _ = self.join(room, "publisher")
        reader.expect(type="system", event="join", username="publisher")

        base_rss = self.srv.rss_kb()
        samples = [base_rss]
        got_reader, got_publisher = self.flood(room, reader, publisher, samples)
        samples.append(self.srv.rss_kb())

        self.check_in_order(got_reader, "reader")
        self.check_in_order(got_publisher, "publisher")
        peak = max(samples)
        print("\nserver RSS: %d kB before the flood, peak %d kB (bound +%d kB)" % (base_rss, peak, RSS_BOUND_KB),
              file=sys.stderr)
        if not SANITIZED:  # ASan's allocator and quarantine make RSS meaningless
            self.assertLess(peak - base_rss, RSS_BOUND_KB,
                            "server RSS grew from %d kB to %d kB (bound +%d kB); samples %r"
                            % (base_rss, peak, RSS_BOUND_KB, samples))

        self.assertGreaterEqual(metric(self.port, "chatd_slow_closed_total"), 1,
                                "the server never decided to close the slow client")

        # the slow client, reading at last, finds what fitted in the buffers and then the 1013
        code, seqs = self.read_slow(slow)
        self.assertIn(code, (1013, None), "slow client closed with %r" % code)
        self.assertEqual(seqs, list(range(len(seqs))),
                         "the slow client's messages before the close must be a gap-free prefix")
        self.assertLess(len(seqs), COUNT, "the slow client cannot have got everything")
        # the room saw it leave, and still works
        # (the leave may have come during the flood already: look at everything seen)
        if not any(op == OP_TEXT and json.loads(p).get("event") == "leave" and json.loads(p).get("username") == "sloth"
                   for op, p in reader.seen):
            reader.expect(type="system", event="leave", username="sloth")
        publisher.send_json({"text": "after the flood"})
        self.assertEqual(reader.expect(type="message")["text"], "after the flood")
        self.assertTrue(self.wait_connections(2), self.srv.healthz())

    # A client closed for a full send queue that never reads again must still be
    # let go (its queue freed, its room told): the close frame goes out when the
    # socket drains, or chatd drops the TCP connection 3 s after its decision (the
    # once-a-second tick checks): observed 3-4 s.
    def test_slow_client_dropped_without_reading(self):
        room = "slowroom2"
        reader, _ = self.join(room, "reader2")
        slow = self.connect(room, "sloth2", rcvbuf=4096)
        reader.expect(type="system", event="join", username="sloth2")
        publisher, _ = self.join(room, "publisher2")
        before = metric(self.port, "chatd_slow_closed_total")
        # enough to overflow 256 KiB plus the socket buffers
        pad = "y" * (MSG_BYTES - 20)
        deadline = time.monotonic() + 15
        i = 0
        while metric(self.port, "chatd_slow_closed_total") == before:
            self.assertLess(time.monotonic(), deadline, "the slow client was never closed")
            publisher.send_raw(b"".join(build_frame(OP_TEXT, json.dumps({"text": "%06d %s" % (i + k, pad)}))
                                        for k in range(50)))
            i += 50
            publisher.drain(0.01)
            reader.drain(0.01)
        # without the slow client reading a byte, the server lets it go
        def left():
            return any(op == OP_TEXT and '"leave"' in p and '"sloth2"' in p for op, p in reader.seen)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not left():
            reader.drain(0.1)
        self.assertTrue(left(), "no leave notice for the slow client within 10 s of its 1013 decision")
        self.assertTrue(self.wait_connections(2), self.srv.healthz())
        slow.close_socket()

    def test_send_path_is_logged(self):
        """The server says how it sends the fan-out: batched through io_uring
        (io_uring = on, the default) or why not; nothing when it is off."""
        log = self.srv.stderr()
        said = ("fan-out sends are batched through io_uring" in log or "io_uring is not available" in log)
        self.assertEqual(said, self.io_uring, log[-2000:])


class SlowConsumerWithoutIoUringTest(SlowConsumerTest):
    """The same with io_uring = off: every write is one send() of its own."""
    config = {"server": {"send_queue_bytes": "256k", "send_queue_soft_bytes": "64k", "io_uring": "off"}}
    io_uring = False


if __name__ == "__main__":
    unittest.main(verbosity=2)
