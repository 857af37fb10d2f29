#!/usr/bin/python3
"""Abuse while a crowd chats: message and typing floods, /msg spraying, 2,000
silent connections from one address, a slow consumer while ~28 MB flow to its
room, nickname spoofing, room-name injection, SQL metacharacters and static
path traversal (a temporary web root with symlinks out of it), all from
127.0.0.2 and up, with ratelimit, typing and privmsg loaded.

Meanwhile 120 normal clients from 127.0.0.1 in 6 rooms chat at one message a
second each; a separate process (test_hostile_util.Chatter) timestamps every
message and measures its delivery to every member. None may be disconnected,
lose a message, get one out of order or see an error, and their p99 delivery
latency during the abuse must stay under max(2 x the quiet p99, FLOOR_MS),
the quiet baseline being measured first (and again after the abuse) in the
same test. The abuse: the bulk flow of the slow-consumer scenario runs in the
background for ABUSE_S seconds; every other scenario runs once, then the cheap
ones again every ROUND_PAUSE_S. Figures: docs/reliability.md.
"""

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import unicodedata
import unittest

SANITIZED = bool(os.environ.get("CHATD_SANITIZED"))  # tests/sanitize.sh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
import wsclient  # noqa: E402
from test_hostile_util import Chatter, frame_kinds, metrics, proc_rss_kb, wait_for  # noqa: E402
from wsclient import OP_TEXT, WSClient, build_frame, ws_path  # noqa: E402

CROWD = 120            # normal clients from 127.0.0.1
CROWD_ROOMS = 6
CROWD_INTERVAL = 1.0   # seconds between two messages of one normal client
QUIET_S = 3.0          # baseline measurement, first
QUIET_AFTER_S = 2.0    # and after the abuse
ABUSE_S = 15.0         # the bulk flow lasts this long; the other scenarios repeat meanwhile
MAX_ROUNDS = 8
ATTEMPTS = 2           # for the latency bound only, see test_abuse_while_crowd_chats
ROUND_PAUSE_S = 1.0
REPEATED = ("message_flood", "typing_flood", "msg_spray", "nick_spoofing", "sql_metachars")
FLOOR_MS = 30.0        # p99 bound = max(2 x quiet p99, FLOOR_MS); measured 4-17 ms (docs/reliability.md)

PER_ADDRESS_CAP = 150  # >= CROWD + observers, so 127.0.0.1 never hits it
SILENT = 2000
MESSAGE_BURST = 10
FLOOD_CLOSE_AFTER = 20
BULK_MSG = 60000       # slow-consumer traffic: 47 senders x 10 messages x 60 kB = ~28 MB
BULK_SENDERS = 47
BULK_PER_SENDER = 10
SLOW_RSS_BOUND_KB = 16 * 1024  # would be ~28 MB if the server queued everything

CONFIG = {
    "server": {"max_message_bytes": "64k", "max_frame_bytes": "128k", "send_queue_bytes": "1M",
               "send_queue_soft_bytes": "256k", "log_level": "notice"},
    "plugin ratelimit": {
        "messages_per_second": 5, "message_burst": MESSAGE_BURST,
        "bytes_per_second": "320k", "byte_burst": "640k",
        # 127.0.0.1 carries the whole crowd (120 messages/s): room for it
        "address_messages_per_second": 300, "address_message_burst": 600,
        "address_bytes_per_second": "2M", "address_byte_burst": "8M",
        "max_connections_per_address": PER_ADDRESS_CAP, "flood_close_after": FLOOD_CLOSE_AFTER,
    },
    "plugin typing": {"throttle_ms": 1000},
    "plugin privmsg": {},
}

# -- names --------------------------------------------------------------------

# Cyrillic and Greek look-alikes of Latin letters (what a spoofer would use).
HOMOGLYPHS = {"A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415", "H": "\u041d", "K": "\u041a",
              "M": "\u041c", "O": "\u041e", "P": "\u0420", "T": "\u0422", "X": "\u0425", "a": "\u0430",
              "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445", "y": "\u0443",
              "i": "\u0456"}
GREEK = {"A": "\u0391", "E": "\u0395", "O": "\u039f", "o": "\u03bf", "P": "\u03a1", "T": "\u03a4"}
_REVERSE = {v: k.lower() for table in (HOMOGLYPHS, GREEK) for k, v in table.items()}


def skeleton(name):
    """What a reader sees: compatibility forms folded, invisible characters and
    surrounding space dropped, case folded, Cyrillic/Greek look-alikes as Latin."""
    s = unicodedata.normalize("NFKC", name)
    s = "".join(c for c in s if unicodedata.category(c) not in ("Cf", "Cc", "Mn", "Zl", "Zp"))
    s = s.strip().casefold()
    return "".join(_REVERSE.get(c, c) for c in s)


def spoofs(victim):
    """Names that look like victim."""
    first = victim[0]
    return [
        victim.lower(), victim.upper(), victim.swapcase(),
        HOMOGLYPHS.get(first, first) + victim[1:],                         # Cyrillic first letter
        "".join(HOMOGLYPHS.get(c, c) for c in victim),                    # every letter that has one
        GREEK.get(first, first) + victim[1:],
        victim[:2] + "\u200b" + victim[2:],                               # zero-width space
        victim + "\u200d",                                                # zero-width joiner
        "\ufeff" + victim,                                                # BOM
        victim[:1] + "\u2060" + victim[1:],                               # word joiner
        "\u202e" + victim[::-1],                                          # right-to-left override
        "\u2066" + victim + "\u2069",                                     # isolate
        victim + "\u200f",                                                # RLM
        "".join(chr(ord(c) + 0xFEE0) for c in victim),                    # fullwidth
        "  " + victim + "  ",                                             # surrounding space
        victim + "\u00a0",                                                # no-break space
    ]


VICTIMS = ["Alice", "Carol", "Oscar", "Peter", "Ethan", "Tracy", "Kevin", "Megan"]  # by round (mod 8)

SQL_TEXTS = [
    "'; DROP TABLE messages; --",
    "Robert'); DROP TABLE students;--",
    "\" OR \"1\"=\"1",
    "' OR 1=1 --",
    "1; SELECT * FROM sqlite_master; /*",
    "%_\\%\\_ LIKE '%' ESCAPE '\\'",
    "?, ?1, :name, @p, $1",
    "\\'; \\\"; \\\\; \\x00",
    "\u00e9\u0301 \U0001F642 \U0001D11E <script>alert(1)</script> {{7*7}} ${jndi:ldap://x}",
]
SQL_NAMES = ["O'Brien;--", "x\"); DROP TABLE u;--"]

ROOM_PATHS_400 = ["/ws/" + "a" * 65, "/ws/" + "b" * 1000, "/ws/caf%C3%A9", "/ws/caf\u00c3\u00a9", "/ws/%00",
                  "/ws/x%20y", "/ws/a#b", "/ws/%2e", "/ws/semi;colon", "/ws/a%2Fb", "/ws/%E2%80%AEx",
                  "/ws/\x7f", "/ws/'%20OR%201=1", "/ws/a%09b", "/ws/a%7f", "/ws/ab%01", "/ws/a%3Fname=x"]
# dot segments are resolved by libwebsockets before chatd sees the path: the
# request is then for a path outside /ws/, which docs/protocol.md answers 404
ROOM_PATHS_DOTS = ["/ws/../x", "/ws/%2e%2e", "/ws/%2e%2e/x", "/ws/..", "/ws/%2E%2E%2Fx", "/ws/../../etc/passwd"]
# ("." and ".." are made of legal characters: legal room names, never used as paths)
BAD_JOIN_ROOMS = ["../x", "%2e%2e", "./", "x" * 65, "caf\u00e9", "a\u0000b", "a/b", "", " ", "a b", "\u202eabc"]

STATIC_404 = ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/%2e%2e/%2e%2e/outside.txt", "/..%2foutside.txt",
              "/sub/..%2f..%2foutside.txt", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/../../../../etc/passwd",
              "/sub/../../outside.txt", "/.%2e/outside.txt", "//etc/passwd", "/%252e%252e/outside.txt",
              "/sub%2f..%2f..%2foutside.txt", "/..\\outside.txt", "/sub/..\\..\\outside.txt", "/etc/passwd",
              "/link-out.txt", "/etc-link/hostname", "/etc-link/passwd", "/sub/rel-out.txt", "/.hidden",
              "/sub/.hidden", "/%2ehidden"]
STATIC_200 = {"/": b"hello index\n", "/index.html": b"hello index\n", "/sub/a.txt": b"inside\n",
              "/inside-link.txt": b"inside\n"}


def make_web_root(base):
    """A web root with files, an inside symlink and symlinks pointing out of it."""
    root = os.path.join(base, "www")
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("hello index\n")
    with open(os.path.join(root, "sub", "a.txt"), "w") as f:
        f.write("inside\n")
    for hidden in (os.path.join(root, ".hidden"), os.path.join(root, "sub", ".hidden")):
        with open(hidden, "w") as f:
            f.write("hidden\n")
    with open(os.path.join(base, "outside.txt"), "w") as f:
        f.write("SECRET outside the web root\n")
    os.symlink(os.path.join(base, "outside.txt"), os.path.join(root, "link-out.txt"))
    os.symlink("/etc", os.path.join(root, "etc-link"))
    os.symlink("../../outside.txt", os.path.join(root, "sub", "rel-out.txt"))
    os.symlink("sub/a.txt", os.path.join(root, "inside-link.txt"))
    return root


class RssSampler(threading.Thread):
    """Samples the server's VmRSS every 50 ms."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (monotonic, kB)
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                self.samples.append((time.monotonic(), proc_rss_kb(self.pid)))
            except OSError:
                return
            self.stopped.wait(0.05)

    def peak(self, since, until=None):
        vals = [kb for t, kb in self.samples if t >= since and (until is None or t <= until)]
        return max(vals) if vals else 0

    def stop(self):
        self.stopped.set()
        self.join(2)


class AbuseTest(chatdtest.ChatdTestCase):
    config = CONFIG

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chatd-hostile-www-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.server_kwargs = {"web_root": make_web_root(cls.tmp), "log_level": "notice"}
        super().setUpClass()

    def hostile(self, room, name=None, source="127.0.0.2", **kw):
        """A joined hostile client: returns it after its welcome and own join."""
        ws = self.connect(room, name, source=source, **kw)
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome", w)
        ws.expect(type="system", event="join", username=w["username"])
        ws.welcome = w
        return ws

    def observer(self, room):
        ws, _ = self.join(room, None, source="127.0.0.1")
        return ws

    def send_burst(self, ws, frames):
        """Write many frames in one go; the server may close before it read them all."""
        try:
            ws.send_raw(b"".join(frames))
        except OSError:
            pass

    # -- the scenarios (each one bounded; r = round number) ---------------------

    def message_flood(self, r):
        room = "flood%d" % r
        obs = self.observer(room)
        ws = self.hostile(room, "Flooder%d" % r, source="127.0.0.2")
        obs.expect(type="system", event="join")
        self.send_burst(ws, [build_frame(OP_TEXT, json.dumps({"text": "flood %d" % i})) for i in range(200)])
        code, reason = ws.expect_close(timeout=5)
        self.assertEqual(code, 1008, reason)
        kinds = frame_kinds(ws.seen)
        errors = [json.loads(p) for op, p in ws.seen if op == OP_TEXT and '"error"' in p]
        self.assertTrue(errors, kinds)
        for e in errors:
            self.assertEqual(e.get("code"), "rate_limited", e)
            self.assertIsInstance(e.get("retry_after_ms"), int, e)
            self.assertGreaterEqual(e["retry_after_ms"], 1, e)
        accepted = kinds.get("message", 0)
        self.assertGreaterEqual(accepted, MESSAGE_BURST - 1, kinds)
        self.assertLessEqual(accepted, MESSAGE_BURST + 2, kinds)
        self.assertEqual(len(errors), FLOOD_CLOSE_AFTER, kinds)
        obs.expect(type="system", event="leave", username="Flooder%d" % r)
        seen = frame_kinds(obs.seen)
        self.assertEqual(seen.get("message", 0), accepted, "the room saw exactly the accepted messages: %r" % seen)
        obs.close()

    def typing_flood(self, r):
        room = "typing%d" % r
        obs = self.observer(room)
        ws = self.hostile(room, "Typist%d" % r, source="127.0.0.3")
        obs.expect(type="system", event="join")
        pad = "p" * 4000  # typing frames cost bytes (not messages): make them count
        # 300 x 4 kB = 1.2 MB: twice the byte burst, so the bucket runs dry
        self.send_burst(ws, [build_frame(OP_TEXT, json.dumps({"type": "typing", "pad": pad}))] * 300)
        code, reason = ws.expect_close(timeout=5)
        self.assertEqual(code, 1008, reason)
        kinds = frame_kinds(ws.seen)
        self.assertEqual(kinds.get("error:rate_limited"), FLOOD_CLOSE_AFTER, kinds)
        obs.expect(type="system", event="leave", username="Typist%d" % r)
        seen = frame_kinds(obs.seen)
        # throttled to one indicator per second, plus the `stopped` notice at the disconnect
        self.assertLessEqual(seen.get("typing", 0), 3, seen)
        obs.close()

    def msg_spray(self, r):
        room = "spray%d" % r
        obs = self.observer(room)
        ws = self.hostile(room, "Sprayer%d" % r, source="127.0.0.4")
        obs.expect(type="system", event="join")
        self.send_burst(ws, [build_frame(OP_TEXT, json.dumps({"text": "/msg ghost%d_%03d psst" % (r, i)}))
                             for i in range(300)])
        code, reason = ws.expect_close(timeout=5)
        self.assertEqual(code, 1008, reason)
        kinds = frame_kinds(ws.seen)
        self.assertGreaterEqual(kinds.get("error:no_such_user", 0), MESSAGE_BURST - 1, kinds)
        self.assertLessEqual(kinds.get("error:no_such_user", 0), MESSAGE_BURST + 2, kinds)
        self.assertEqual(kinds.get("error:rate_limited", 0), FLOOD_CLOSE_AFTER, kinds)
        self.assertNotIn("private", kinds)
        obs.expect(type="system", event="leave", username="Sprayer%d" % r)
        seen = frame_kinds(obs.seen)
        self.assertNotIn("message", seen, "a /msg leaked into the room: %r" % seen)
        self.assertNotIn("private", seen)
        obs.close()

    def silent_connections(self, r):
        before = self.srv.healthz()[1]["connections"]
        opened, statuses = [], {}
        try:
            for _ in range(SILENT):
                ws = WSClient(self.port, ws_path("silent%d" % r), source="127.0.0.5", timeout=5)
                resp = ws.handshake()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
                if resp.status == 101:
                    opened.append(ws)
                else:
                    self.assertIn("too many connections", resp.body.decode("latin-1"), resp)
            self.assertEqual(statuses, {101: PER_ADDRESS_CAP, 429: SILENT - PER_ADDRESS_CAP})
            self.assertGreaterEqual(self.srv.healthz()[1]["connections"], CROWD + PER_ADDRESS_CAP)
            time.sleep(0.5)  # hold them, silent, while the crowd chats
        finally:
            for ws in opened:
                ws.close_socket()
        # (+2: a bulk sender of the slow-consumer scenario may be connected meanwhile)
        self.assertTrue(wait_for(lambda: self.srv.healthz()[1]["connections"] <= before + 2, 5),
                        "the silent connections were not released")
        # the cap is per address: the next one from there gets in again
        ws = WSClient(self.port, ws_path("silent%d" % r), source="127.0.0.5")
        self.assertEqual(ws.handshake().status, 101)
        ws.close()

    def start_slow_consumer(self, attempt):
        """A reader that never reads (tiny SO_RCVBUF) in a room that then gets
        ~28 MB, spread over ABUSE_S seconds by senders from 16 addresses, in a
        thread while the other scenarios run."""
        room = "bulk%d" % attempt
        self.slow_closed0 = metrics(self.srv)["chatd_slow_closed_total"]
        self.slow = self.hostile(room, "Slow%d" % attempt, source="127.0.0.6", rcvbuf=4096)
        self.bulk = {"sent": 0, "errors": [], "t0": time.monotonic(), "t1": None,
                     "in0": metrics(self.srv)["chatd_messages_in_total"]}
        self.bulk_rss0 = proc_rss_kb(self.srv.pid)
        pad = "x" * BULK_MSG
        burst = b"".join(build_frame(OP_TEXT, json.dumps({"text": pad, "client_id": "b%d" % k}))
                         for k in range(BULK_PER_SENDER))

        def flow():
            t0 = self.bulk["t0"]
            try:
                for i in range(BULK_SENDERS):
                    time.sleep(max(0.0, t0 + i * ABUSE_S / BULK_SENDERS - time.monotonic()))
                    s = self.srv.connect(room, "Bulk%d_%d" % (attempt, i), source="127.0.0.%d" % (10 + i % 16), timeout=10)
                    try:
                        s.recv_json()  # welcome
                        s.send_raw(burst)
                        self.bulk["sent"] += BULK_PER_SENDER * BULK_MSG
                    finally:
                        # gone without reading its echoes (the server reads what
                        # was sent before the FIN): the flow costs this process
                        # nothing more and the server all of it
                        s.close_socket()
            except Exception as e:  # reported by finish_slow_consumer
                self.bulk["errors"].append(repr(e)[:500])
            self.bulk["t1"] = time.monotonic()

        self.bulk_thread = threading.Thread(target=flow, daemon=True)
        self.bulk_thread.start()

    def finish_slow_consumer(self, rss):
        self.bulk_thread.join(ABUSE_S + 30)
        self.assertFalse(self.bulk_thread.is_alive(), "the bulk flow did not finish")
        self.assertEqual(self.bulk["errors"], [])
        t0, t1 = self.bulk["t0"], self.bulk["t1"]
        peak = rss.peak(t0, t1)
        self.assertGreaterEqual(self.bulk["sent"], 28 * 1000 * 1000)
        # every bulk message reached the room (the other scenarios add theirs)
        self.assertTrue(wait_for(lambda: metrics(self.srv)["chatd_messages_in_total"] - self.bulk["in0"]
                                 >= BULK_SENDERS * BULK_PER_SENDER, 5), "bulk messages lost")
        self.assertTrue(wait_for(lambda: metrics(self.srv)["chatd_slow_closed_total"] > self.slow_closed0, 5),
                        "the slow consumer was not closed")
        # now it reads: some of the room's traffic, then the close 1013 (or the end of the stream)
        code, reason = self.slow.expect_close(timeout=10, allow_eof=True)
        if code is not None:
            self.assertEqual(code, 1013, reason)
        received = sum(len(p) for op, p in self.slow.seen if op == OP_TEXT)
        self.assertLess(received, 4 * 1024 * 1024, "the slow consumer got far more than its queue limit")
        if not SANITIZED:  # ASan's allocator and quarantine make RSS meaningless
            self.assertLess(peak - self.bulk_rss0, SLOW_RSS_BOUND_KB,
                            "server RSS grew %d kB while ~28 MB flowed to a room with a reader that never reads"
                            % (peak - self.bulk_rss0))
        self.figures["slow"] = {"mb": round(self.bulk["sent"] / 1e6, 1), "s": round(t1 - t0, 2),
                                "rss_growth_kb": peak - self.bulk_rss0, "slow_received_kb": received // 1024,
                                "close": code}

    def nick_spoofing(self, r):
        room = "spoof%d" % r
        victim_name = VICTIMS[r % len(VICTIMS)]
        victim, w = self.join(room, victim_name, source="127.0.0.1")
        self.assertEqual(w["username"], victim_name)
        want = skeleton(victim_name)
        for variant in spoofs(victim_name):
            with self.subTest(spoof=variant):
                ws = self.connect(room, variant, source="127.0.0.7")
                welcome = ws.recv_json()
                self.assertEqual(welcome.get("type"), "welcome", welcome)
                ws.send_json({"type": "who"})  # everything before its answer came with the connect
                ws.expect(type="users")
                kinds = frame_kinds(ws.seen)
                got = welcome["username"]
                self.assertNotEqual(skeleton(got), want, "%r connected as %r" % (variant, got))
                self.assertTrue(kinds.get("error:bad_request") or got != variant.strip(),
                                "%r: neither a variant nor a bad_request: %s" % (variant, ws.history()))
                # as a rename, and as the username of a message
                ws.send_json({"type": "nick", "username": variant})
                ws.send_json({"type": "message", "text": "I am %s" % victim_name, "username": variant})
                msg = ws.expect(type="message", text="I am %s" % victim_name)
                self.assertNotEqual(skeleton(msg["username"]), want, msg)
                for op, p in ws.seen:
                    if op == OP_TEXT and '"rename"' in p:
                        self.assertNotEqual(skeleton(json.loads(p)["username"]), want, p)
                ws.close()
                # the victim sees the message under another name
                seen = victim.expect(type="message", text="I am %s" % victim_name)
                self.assertNotEqual(skeleton(seen["username"]), want, seen)
        victim.close()

    def room_injection(self, r):
        for path in ROOM_PATHS_400 + ROOM_PATHS_DOTS:
            with self.subTest(path=path):
                ws = WSClient(self.port, path, source="127.0.0.8")
                resp = ws.handshake()
                allowed = (400, 404) if path in ROOM_PATHS_DOTS else (400,)
                self.assertIn(resp.status, allowed, "%r -> %s" % (path, resp.status_line))
                self.assertNotIn("sec-websocket-accept", resp.headers)
        ws = self.hostile("inject%d" % r, "Injector%d" % r, source="127.0.0.8")
        for room in BAD_JOIN_ROOMS:
            with self.subTest(join=room):
                ws.send_json({"type": "join", "room": room})
                e = ws.recv_json()
                self.assertEqual((e.get("type"), e.get("code")), ("error", "bad_request"), e)
        ws.send_json({"type": "who"})
        self.assertEqual(ws.expect(type="users").get("room"), "inject%d" % r, "the client changed rooms")
        ws.close()

    def sql_metachars(self, r):
        room = "sql%d" % r
        reader, _ = self.join(room, None, source="127.0.0.1")
        for k, name in enumerate(SQL_NAMES):
            name += "" if r == 0 else str(r)
            ws = self.connect(room, name, source="127.0.0.%d" % (8 + k))
            w = ws.recv_json()
            self.assertEqual(w.get("username"), name, w)
            reader.expect(type="system", event="join", username=name)
            texts = SQL_TEXTS[k::len(SQL_NAMES)]
            for i, text in enumerate(texts):
                ws.send_json({"type": "message", "text": text, "client_id": "q%d" % i})
                echo = ws.expect(type="message", client_id="q%d" % i)
                self.assertEqual(echo["text"], text)
                got = reader.expect(type="message", username=name)
                self.assertEqual(got["text"].encode("utf-8"), text.encode("utf-8"))
                self.assertEqual(got["username"].encode("utf-8"), name.encode("utf-8"))
            reader.send_json({"type": "who"})
            self.assertIn(name, reader.expect(type="users")["users"])
            ws.close()
        reader.close()

    def static_traversal(self, r):
        for path in STATIC_404:
            with self.subTest(path=path):
                status, _, body = self.srv.get(path, source="127.0.0.9")
                self.assertEqual(status, 404, "%r -> %d %r" % (path, status, body[:100]))
                self.assertNotIn(b"SECRET", body)
                self.assertNotIn(b"root:", body)
        for path, want in STATIC_200.items():
            status, _, body = self.srv.get(path, source="127.0.0.9")
            self.assertEqual((status, body), (200, want), path)

    # -- the test -------------------------------------------------------------

    def test_abuse_while_crowd_chats(self):
        self.figures = {}
        self._nice0 = os.nice(0)
        self.addCleanup(self._renice)
        rss = RssSampler(self.srv.pid)
        rss.start()
        self.addCleanup(rss.stop)
        # Everything but the latency bound must hold on every attempt; the bound
        # gets a second attempt when the first one misses it, because other
        # work on a shared 2-core machine can take the CPU for a while (a
        # server that really stalls on an abuser misses it twice).
        for attempt in range(ATTEMPTS):
            p99, bound, summary = self.attempt(attempt, rss)
            if p99 < bound:
                return
            print("p99 %.1f ms over the bound %.1f ms on attempt %d%s" % (
                p99, bound, attempt + 1, ": measuring again" if attempt + 1 < ATTEMPTS else ""), file=sys.stderr)
        # A latency bound says nothing on a saturated machine (make -j check
        # runs browsers and other servers beside this test): then the figure is
        # reported, not judged; on a machine with CPU to spare it must hold.
        # Speed goals proper live in bench/.
        load = os.getloadavg()[0]
        if load > (os.cpu_count() or 1):
            print("latency bound not judged: load average %.1f on %d CPUs; last: %s" % (
                load, os.cpu_count() or 1, summary), file=sys.stderr)
            return
        self.fail("crowd p99 over the bound on %d attempts; last: %s" % (ATTEMPTS, summary))

    def attempt(self, attempt, rss):
        """One crowd, one quiet baseline, the abuse; asserts all but the latency
        bound. Returns (abuse p99, bound, summary)."""
        crowd = Chatter(self.port, CROWD, CROWD_ROOMS, CROWD_INTERVAL, prefix="n%d_" % attempt)
        self.addCleanup(crowd.kill)
        crowd.start()
        # What is measured is the server as the crowd sees it, not this busy
        # shared 2-core machine: the server and the crowd run at a higher
        # priority than other work on the machine (when allowed: root), the
        # attacking code below at a lower one (a real attacker's CPU is not the
        # server's either).
        for pid in (self.srv.pid, crowd.proc.pid):
            try:
                os.setpriority(os.PRIO_PROCESS, pid, -5)
            except OSError:
                pass
        crowd.phase("quiet:first")
        time.sleep(QUIET_S)
        os.nice(10)
        t0 = time.monotonic()
        rss0 = proc_rss_kb(self.srv.pid)
        crowd.phase("abuse:slow_consumer")
        with self.subTest(scenario="slow_consumer (start)", attempt=attempt):
            self.start_slow_consumer(attempt)
        scenarios = [("message_flood", self.message_flood), ("typing_flood", self.typing_flood),
                     ("msg_spray", self.msg_spray), ("silent_connections", self.silent_connections),
                     ("nick_spoofing", self.nick_spoofing), ("room_injection", self.room_injection),
                     ("sql_metachars", self.sql_metachars), ("static_traversal", self.static_traversal)]
        rounds = 0
        timings = {}
        # all of them once, then the floods and spoofs again every ROUND_PAUSE_S
        # while the bulk flow lasts (ABUSE_S)
        while rounds < MAX_ROUNDS and (rounds == 0 or self.bulk_thread.is_alive()):
            if rounds:
                crowd.phase("abuse:pause")
                time.sleep(ROUND_PAUSE_S)
            r = attempt * MAX_ROUNDS + rounds  # unique names and rooms
            for name, fn in scenarios:
                if rounds and name not in REPEATED:
                    continue
                crowd.phase("abuse:" + name)
                with self.subTest(scenario=name, round=r):
                    s0 = time.monotonic()
                    fn(r)
                    timings.setdefault(name, []).append(round(time.monotonic() - s0, 2))
                self.assertTrue(self.srv.alive(), "chatd died during %s" % name)
            rounds += 1
        crowd.phase("abuse:slow_consumer")
        with self.subTest(scenario="slow_consumer", attempt=attempt):
            self.finish_slow_consumer(rss)
        abuse_s = time.monotonic() - t0
        self._renice()
        # the baseline also samples the machine after the abuse (other test
        # suites may be running on it)
        crowd.phase("quiet:after")
        time.sleep(QUIET_AFTER_S)
        peak = rss.peak(t0)
        res = crowd.stop()
        first, quiet, abuse = res["phases"]["quiet:first"], res["phases"]["quiet"], res["phases"]["abuse"]
        bound = max(2 * quiet["p99"], FLOOR_MS)
        summary = ("attempt %d: crowd %d clients / %d rooms, %d messages; quiet first %.1f s: p50 %.1f p99 %.1f ms; "
                   "all quiet p50 %.1f p99 %.1f ms (n=%d); abuse %.1f s, "
                   "%d rounds: p50 %.1f p99 %.1f max %.1f ms (n=%d); bound %.1f ms; server RSS %d -> peak %d kB; "
                   "scenario seconds %r; slow consumer %r"
                   % (attempt + 1, res["clients"], CROWD_ROOMS, res["sent"], QUIET_S, first["p50"], first["p99"],
                      quiet["p50"], quiet["p99"], quiet["n"], abuse_s, rounds, abuse["p50"], abuse["p99"],
                      abuse["max"], abuse["n"], bound, rss0, peak, timings, self.figures.get("slow")))
        per = ", ".join("%s p99 %.1f" % (k.split(":", 1)[1], v["p99"]) for k, v in sorted(res["phases"].items())
                        if k.startswith("abuse:"))
        summary += "; per scenario (ms): " + per
        print("\n" + summary, file=sys.stderr)
        self.assertEqual(res["disconnected"], {}, summary)
        self.assertEqual(res["lost"], 0, "%s; lost: %r" % (summary, res["lost_detail"]))
        self.assertEqual(res["disorder"], [], summary)
        self.assertEqual(res["unexpected"], {}, "normal clients got frames they did not ask for: " + summary)
        self.assertGreater(abuse["n"], CROWD * 5, summary)
        if not SANITIZED:  # ASan's allocator and quarantine make RSS meaningless
            self.assertLess(peak - rss0, 64 * 1024, summary)
        return abuse["p99"], bound, summary

    def _renice(self):
        try:
            if os.nice(0) > self._nice0:
                os.nice(self._nice0 - os.nice(0))
        except OSError:  # not root: stay low, it only slows the attacker
            pass

    # -- found while writing the above ---------------------------------------------

    # SERVER BUG: a NUL (%00) inside the request path is answered with no HTTP
    # status at all: libwebsockets drops the connection ("GET /ws/a%00b" with an
    # upgrade, and "GET /index.html%00.txt": the socket just closes, 0 bytes
    # back), while "/ws/%00" gets 400. PROTOCOL.md: a room name outside
    # [A-Za-z0-9._-] "is refused at the handshake with HTTP 400 (no upgrade)";
    # docs/protocol.md: files that do not exist are 404.
    @unittest.expectedFailure
    def test_nul_in_path_gets_an_http_status(self):
        ws = WSClient(self.port, "/ws/a%00b", source="127.0.0.8")
        try:
            resp = ws.handshake()
        except wsclient.WSClosed as e:
            self.fail("GET /ws/a%%00b: connection dropped without an HTTP answer (%s)" % e)
        self.assertEqual(resp.status, 400)
        status, _, _ = self.srv.get("/index.html%00.txt", source="127.0.0.8")
        self.assertEqual(status, 404)

    # SERVER BUG: an encoded CR in the room of the upgrade URL cuts the room name
    # there instead of refusing it: "GET /ws/a%0db" and
    # "GET /ws/a%0d%0aX-Injected:%201" are upgraded (101) into room "a"
    # (libwebsockets ends the decoded URI at the CR, and chatd validates what is
    # left). An encoded LF ("GET /ws/a%0a") gets no HTTP answer at all (dropped).
    # PROTOCOL.md: room names are 1 to 64 bytes of [A-Za-z0-9._-], "anything else
    # is refused at the handshake with HTTP 400 (no upgrade)".
    @unittest.expectedFailure
    def test_encoded_cr_lf_in_room_is_400(self):
        for path in ("/ws/a%0db", "/ws/a%0d%0aX-Injected:%201", "/ws/a%0a"):
            with self.subTest(path=path):
                ws = WSClient(self.port, path, source="127.0.0.8")
                try:
                    resp = ws.handshake()
                except wsclient.WSClosed as e:
                    self.fail("%s: connection dropped without an HTTP answer (%s)" % (path, e))
                room = ws.recv_json().get("room") if resp.status == 101 else None
                ws.close()
                self.assertEqual(resp.status, 400, "%s -> %s, joined room %r" % (path, resp.status_line, room))


if __name__ == "__main__":
    chatdtest.main()
