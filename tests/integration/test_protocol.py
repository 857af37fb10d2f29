#!/usr/bin/python3
"""The chat protocol as PROTOCOL.md states it: welcome, identity, events,
messages, ids, renames, room switches, who, /healthz and static files."""

import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, WEB_ROOT, uniq  # noqa: E402





def now_ms():
    return int(time.time() * 1000)


class ProtocolTest(ChatdTestCase):
    config = {"plugin me": {}}

    def assert_ts(self, obj):
        self.assertIsInstance(obj.get("ts"), int, obj)
        self.assertLess(abs(obj["ts"] - now_ms()), 60000, "ts is not milliseconds since the epoch: %r" % obj)

    # -- welcome and identity ------------------------------------------------

    def test_welcome_shape(self):
        room, name = uniq("room"), uniq("Wally")
        ws = self.connect(room, name)
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome", w)
        self.assertEqual(w.get("room"), room)
        self.assertEqual(w.get("username"), name)
        self.assertEqual(w.get("users"), [name])
        self.assertIsInstance(w.get("server"), str)
        self.assertRegex(w["server"], r"^chatd/\d+\.\d+\.\d+")
        self.assertIsInstance(w.get("limits"), dict, w)
        self.assertEqual(w["limits"].get("max_message_bytes"), 4096, w)
        # the joiner's own join notice comes right after its welcome
        j = ws.recv_json()
        self.assertSubset({"type": "system", "event": "join", "room": room, "username": name}, j)
        self.assertIsInstance(j.get("message"), str)
        self.assertIn(name, j["message"])
        self.assert_ts(j)

    def test_welcome_lists_present_users(self):
        room, a, b = uniq("room"), uniq("Ann"), uniq("Bea")
        self.join(room, a)
        wsb = self.connect(room, b)
        w = wsb.recv_json()
        self.assertEqual(w.get("type"), "welcome")
        self.assertEqual(sorted(w["users"]), sorted([a, b]))

    def test_guest_name_when_no_name(self):
        ws = self.connect(uniq("room"))
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome")
        self.assertRegex(w["username"], r"^guest-\d{4,}$")
        ws.expect(type="system", event="join", username=w["username"])
        # two guests never share a name
        ws2 = self.connect(w["room"])
        w2 = ws2.recv_json()
        self.assertRegex(w2["username"], r"^guest-\d{4,}$")
        self.assertNotEqual(w["username"].lower(), w2["username"].lower())

    def test_query_name_is_url_decoded(self):
        name = "Zoë " + uniq("X")
        ws = self.connect(uniq("room"), name)  # sent as ?name=Zo%C3%AB%20X...
        w = ws.recv_json()
        self.assertEqual(w["username"], name)

    def test_taken_name_gets_variant_case_insensitive(self):
        base = uniq("Alice")
        room1, room2 = uniq("room"), uniq("room")
        _, w1 = self.join(room1, base)
        self.assertEqual(w1["username"], base)
        ws2 = self.connect(room1, base.lower())
        w2 = ws2.recv_json()
        self.assertEqual(w2["username"], base.lower() + "2", "a case variant of a taken name must get a free variant")
        # names are unique across the server, not per room
        ws3 = self.connect(room2, base.upper())
        w3 = ws3.recv_json()
        self.assertEqual(w3["username"], base.upper() + "3")

    def test_lookalike_name_gets_variant(self):
        # docs/protocol.md: Cyrillic/Greek look-alikes and fullwidth forms compare
        # equal to the Latin letters, so nobody can pass as somebody else that way
        base = uniq("Alice")
        self.join(uniq("room"), base)
        fake = "\u0410" + base[1:]  # Cyrillic capital A
        ws = self.connect(uniq("room"), fake)
        self.assertEqual(ws.recv_json()["username"], fake + "2")
        full = "\uff21" + base[1:]  # fullwidth A
        ws2 = self.connect(uniq("room"), full)
        self.assertEqual(ws2.recv_json()["username"], full + "3")

    def test_name_is_trimmed(self):
        name = uniq("Trim")
        ws = self.connect(uniq("room"), "  %s  " % name)
        self.assertEqual(ws.recv_json()["username"], name)

    def test_variant_of_32_char_name_stays_within_32(self):
        name = (uniq("Long") + "x" * 32)[:32]
        self.join(uniq("room"), name)
        ws = self.connect(uniq("room"), name)
        got = ws.recv_json()["username"]
        self.assertEqual(got, name[:31] + "2")

    def test_bad_query_name_connects_as_guest_with_error(self):
        ws = self.connect(uniq("room"), "bad\x01name")
        w = ws.recv_json()
        self.assertEqual(w.get("type"), "welcome")
        self.assertRegex(w["username"], r"^guest-\d{4,}$")
        e = ws.expect(type="error")
        self.assertEqual(e.get("code"), "bad_request", e)

    # -- presence events -----------------------------------------------------

    def test_join_and_leave_events(self):
        room, a, b = uniq("room"), uniq("Ann"), uniq("Bob")
        wsa, _ = self.join(room, a)
        wsb, _ = self.join(room, b)
        j = wsa.recv_json()
        self.assertSubset({"type": "system", "event": "join", "room": room, "username": b}, j)
        self.assertIn(b, j.get("message", ""))
        self.assert_ts(j)
        wsb.close()
        leave = wsa.recv_json()
        self.assertSubset({"type": "system", "event": "leave", "room": room, "username": b}, leave)
        self.assertIn(b, leave.get("message", ""))
        self.assert_ts(leave)

    # -- messages ------------------------------------------------------------

    def test_message_shape_to_all_and_client_id_to_sender_only(self):
        room, a, b = uniq("room"), uniq("Ann"), uniq("Bob")
        wsa, _ = self.join(room, a)
        wsb, _ = self.join(room, b)
        wsa.expect(type="system", event="join", username=b)
        wsa.send_json({"type": "message", "text": "Hi there", "client_id": "c17"})
        ma = wsa.recv_json()
        mb = wsb.recv_json()
        for m in (ma, mb):
            self.assertSubset({"type": "message", "room": room, "username": a, "text": "Hi there"}, m)
            self.assertIsInstance(m.get("id"), int, m)
            self.assert_ts(m)
        self.assertEqual(ma.get("client_id"), "c17", "the sender's echo carries its client_id")
        self.assertNotIn("client_id", mb, "client_id goes to the sender only")
        self.assertEqual(ma["id"], mb["id"])
        # without a client_id the echo has none
        wsb.send_json({"type": "message", "text": "no id"})
        for ws in (wsa, wsb):
            m = ws.recv_json()
            self.assertSubset({"type": "message", "username": b, "text": "no id"}, m)
            self.assertNotIn("client_id", m)

    def test_tutorial_form_without_type(self):
        room, a = uniq("room"), uniq("Ann")
        wsa, _ = self.join(room, a)
        wsa.send_json({"text": "plain", "username": a})
        m = wsa.recv_json()
        self.assertSubset({"type": "message", "username": a, "text": "plain", "room": room}, m)

    def test_text_is_delivered_verbatim(self):
        room = uniq("room")
        wsa, _ = self.join(room, uniq("Ann"))
        text = "  héllo \"quoted\" \\ </script> \u2603 \U0001F600 \n second line  "
        wsa.send_json({"type": "message", "text": text})
        self.assertEqual(wsa.recv_json().get("text"), text)

    def test_ids_strictly_increasing_per_room(self):
        room = uniq("room")
        wsa, w = self.join(room, uniq("Ann"))
        ids = []
        for i in range(10):
            wsa.send_json({"type": "message", "text": "m%d" % i})
        for i in range(10):
            m = wsa.recv_json()
            self.assertEqual(m.get("text"), "m%d" % i, "messages of one sender arrive in order")
            ids.append(m["id"])
        self.assertEqual(ids, sorted(set(ids)), "ids must be strictly increasing: %r" % ids)
        self.assertGreater(ids[0], w.get("last_id", 0))

    def test_ids_independent_across_rooms(self):
        # Interpretation: each room has its own counter; traffic in one room
        # neither shows up in nor advances another room's sequence.
        rx, ry = uniq("room"), uniq("room")
        wsx, _ = self.join(rx, uniq("Xan"))
        wsy, wy = self.join(ry, uniq("Yul"))
        self.assertEqual(wy.get("last_id", 0), 0, "a new room starts with no messages")
        wsy.send_json({"text": "y1"})
        y1 = wsy.recv_json()["id"]
        for i in range(5):
            wsx.send_json({"text": "x%d" % i})
        xs = [wsx.recv_json()["id"] for _ in range(5)]
        wsy.send_json({"text": "y2"})
        y2 = wsy.recv_json()["id"]
        self.assertEqual(y1, 1, "the first message of a fresh room")
        self.assertEqual(y2, y1 + 1, "room %s's ids advanced by messages in room %s (x ids %r)" % (ry, rx, xs))
        self.assertEqual(xs, list(range(xs[0], xs[0] + 5)))

    def test_ids_not_reused_after_room_empties(self):
        room = uniq("room")
        wsa, _ = self.join(room, uniq("Ann"))
        for t in ("one", "two"):
            wsa.send_json({"text": t})
        last = [wsa.recv_json()["id"] for _ in range(2)][-1]
        wsa.close(wait=5.0)  # the server has seen the close before Bob joins
        wsb, w = self.join(room, uniq("Bob"))
        self.assertEqual(w.get("users"), [w["username"]], "the room should be empty but for the newcomer")
        wsb.send_json({"text": "three"})
        m = wsb.recv_json()
        self.assertGreater(m["id"], last, "id %d reused after the room emptied (last was %d)" % (m["id"], last))

    def test_me_plugin(self):
        room, a = uniq("room"), uniq("Ann")
        wsa, _ = self.join(room, a)
        wsa.send_json({"type": "message", "text": "/me waves"})
        m = wsa.recv_json()
        self.assertSubset({"type": "message", "username": a, "text": "* %s waves" % a}, m)

    # -- renames and identity ------------------------------------------------

    def test_rename_with_nick(self):
        room, a, b, new = uniq("room"), uniq("Ann"), uniq("Bob"), uniq("Newt")
        wsa, _ = self.join(room, a)
        wsb, _ = self.join(room, b)
        wsa.expect(type="system", event="join", username=b)
        wsa.send_json({"type": "nick", "username": new})
        for ws in (wsa, wsb):
            r = ws.recv_json()
            self.assertSubset({"type": "system", "event": "rename", "room": room, "username": new, "old": a}, r)
            self.assertIn(new, r.get("message", ""))
            self.assertIn(a, r.get("message", ""))
            self.assert_ts(r)
        wsa.send_json({"type": "who"})
        users = wsa.recv_json()
        self.assertEqual(sorted(users["users"]), sorted([new, b]))
        wsa.send_json({"text": "after"})
        self.assertEqual(wsb.recv_json().get("username"), new)
        # the old name is free again
        wsc, wc = self.join(uniq("room"), a)
        self.assertEqual(wc["username"], a)

    def test_rename_to_taken_name_gets_variant(self):
        room, a, b = uniq("room"), uniq("Ann"), uniq("Bob")
        wsa, _ = self.join(room, a)
        wsb, _ = self.join(room, b)
        wsa.expect(type="system", event="join", username=b)
        wsb.send_json({"type": "nick", "username": a.upper()})
        r = wsb.recv_json()
        self.assertSubset({"type": "system", "event": "rename", "old": b, "username": a.upper() + "2"}, r)
        self.assertEqual(wsa.recv_json(), r)

    def test_rename_via_username_in_message(self):
        room, carla = uniq("room"), uniq("Carla")
        watcher, _ = self.join(room, uniq("Wat"))
        ws = self.connect(room)  # a guest, as the tutorial client connects
        guest = ws.recv_json()["username"]
        ws.expect(type="system", event="join", username=guest)
        watcher.expect(type="system", event="join", username=guest)
        ws.send_json({"username": carla, "text": "one"})
        ws.send_json({"username": carla, "text": "two"})
        for w in (ws, watcher):
            r = w.recv_json()
            self.assertSubset({"type": "system", "event": "rename", "username": carla, "old": guest}, r)
            m1 = w.recv_json()
            self.assertSubset({"type": "message", "username": carla, "text": "one"}, m1)
            m2 = w.recv_json()
            # the repeated, unchanged username is not a new rename
            self.assertSubset({"type": "message", "username": carla, "text": "two"}, m2)

    def test_repeated_username_after_variant_is_not_a_rename(self):
        room, dora = uniq("room"), uniq("Dora")
        wsd, _ = self.join(room, dora)
        ws = self.connect(room)
        guest = ws.recv_json()["username"]
        ws.expect(type="system", event="join", username=guest)
        wsd.expect(type="system", event="join", username=guest)
        ws.send_json({"username": dora, "text": "first"})
        ws.send_json({"username": dora, "text": "second"})
        r = wsd.recv_json()
        self.assertSubset({"type": "system", "event": "rename", "old": guest, "username": dora + "2",
                           "requested": dora}, r)
        self.assertSubset({"type": "message", "username": dora + "2", "text": "first"}, wsd.recv_json())
        self.assertSubset({"type": "message", "username": dora + "2", "text": "second"}, wsd.recv_json())

    def test_nobody_can_post_as_somebody_else(self):
        room, eve, frank = uniq("room"), uniq("Eve"), uniq("Frank")
        wse, _ = self.join(room, eve)
        wsf, _ = self.join(room, frank)
        wse.expect(type="system", event="join", username=frank)
        wsf.send_json({"username": eve, "text": "I am Eve, honest"})
        seen = []
        while True:
            m = wse.recv_json()
            seen.append(m)
            if m.get("type") == "message":
                break
        self.assertNotEqual(m["username"].lower(), eve.lower(), "impersonation: %r" % seen)
        self.assertEqual(m["username"], eve + "2")
        self.assertTrue(any(f.get("event") == "rename" and f.get("old") == frank for f in seen),
                        "the impostor's rename must be announced: %r" % seen)
        # Eve still is Eve
        wse.send_json({"type": "who"})
        self.assertIn(eve, wse.expect(type="users")["users"])

    def test_same_name_again_is_not_a_rename(self):
        room, a = uniq("room"), uniq("Ann")
        wsa, _ = self.join(room, a)
        wsa.send_json({"username": a, "text": "x"})
        m = wsa.recv_json()
        self.assertSubset({"type": "message", "username": a, "text": "x"}, m)
        wsa.send_json({"type": "nick", "username": a})
        wsa.send_json({"text": "y"})
        self.assertSubset({"type": "message", "username": a, "text": "y"}, wsa.recv_json())

    # -- rooms -----------------------------------------------------------------

    def test_join_switches_room(self):
        r1, r2 = uniq("room"), uniq("room")
        a, b, c = uniq("Ann"), uniq("Bob"), uniq("Cy")
        wsa, _ = self.join(r1, a)
        wsb, _ = self.join(r1, b)
        wsa.expect(type="system", event="join", username=b)
        wsc, _ = self.join(r2, c)
        wsa.send_json({"type": "join", "room": r2})
        w = wsa.recv_json()
        self.assertSubset({"type": "welcome", "room": r2, "username": a}, w)
        self.assertEqual(sorted(w["users"]), sorted([a, c]))
        self.assertSubset({"type": "system", "event": "join", "room": r2, "username": a}, wsa.recv_json())
        self.assertSubset({"type": "system", "event": "leave", "room": r1, "username": a}, wsb.recv_json())
        self.assertSubset({"type": "system", "event": "join", "room": r2, "username": a}, wsc.recv_json())
        # messages now go to the new room only
        wsa.send_json({"text": "in r2"})
        self.assertSubset({"type": "message", "room": r2, "text": "in r2"}, wsa.recv_json())
        self.assertSubset({"type": "message", "room": r2, "text": "in r2"}, wsc.recv_json())
        wsb.send_json({"text": "b marker"})
        self.assertSubset({"type": "message", "room": r1, "text": "b marker"}, wsb.recv_json(),
                          "a message of the new room leaked to the old one")
        wsb.send_json({"type": "who"})
        self.assertEqual(wsb.recv_json().get("users"), [b])

    def test_join_invalid_room_keeps_client_where_it_was(self):
        room = uniq("room")
        wsa, _ = self.join(room, uniq("Ann"))
        wsa.send_json({"type": "join", "room": "no spaces/allowed"})
        e = wsa.recv_json()
        self.assertSubset({"type": "error", "code": "bad_request"}, e)
        wsa.send_json({"text": "still here"})
        self.assertSubset({"type": "message", "room": room, "text": "still here"}, wsa.recv_json())

    def test_join_current_room_resends_welcome(self):
        room, a = uniq("room"), uniq("Ann")
        wsa, _ = self.join(room, a)
        wsa.send_json({"type": "join", "room": room})
        self.assertSubset({"type": "welcome", "room": room, "username": a, "users": [a]}, wsa.recv_json())

    def test_who(self):
        room, a, b = uniq("room"), uniq("Ann"), uniq("Bob")
        wsa, _ = self.join(room, a)
        self.join(room, b)
        self.join(uniq("room"), uniq("Elsewhere"))
        wsa.expect(type="system", event="join", username=b)
        wsa.send_json({"type": "who"})
        u = wsa.recv_json()
        self.assertEqual(u.get("type"), "users", u)
        self.assertEqual(u.get("room"), room)
        self.assertEqual(sorted(u["users"]), sorted([a, b]))

    def test_rooms_are_isolated(self):
        r1, r2 = uniq("room"), uniq("room")
        wsa, _ = self.join(r1, uniq("Ann"))
        wsb, _ = self.join(r2, uniq("Bob"))
        wsa.send_json({"text": "secret of r1"})
        self.assertEqual(wsa.recv_json().get("text"), "secret of r1")  # processed and fanned out
        wsb.send_json({"text": "marker r2"})
        first = wsb.recv_json()
        self.assertSubset({"type": "message", "room": r2, "text": "marker r2"}, first,
                          "room %s got a frame of room %s" % (r2, r1))
        self.assertEqual(first["id"], 1)
        wsb.expect_silence(0.2)

    def test_64_byte_room_accepted(self):
        room = ("x" * 60 + uniq(""))[-64:]
        ws = self.connect(room)
        self.assertEqual(ws.recv_json().get("room"), room)

    # -- HTTP ------------------------------------------------------------------

    def test_healthz(self):
        status, headers, body = self.srv.get("/healthz")
        self.assertEqual(status, 200)
        self.assertIn("json", headers.get("content-type", ""))
        doc = json.loads(body)
        self.assertEqual(doc.get("status"), "ok")

    def test_bundled_client_served(self):
        status, headers, body = self.srv.get("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/html"), headers)
        with open(os.path.join(WEB_ROOT, "index.html"), "rb") as f:
            self.assertEqual(body, f.read())

    def test_metrics(self):
        ws, _ = self.join(uniq("room"), uniq("Met"))
        status, headers, body = self.srv.get("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
        text = body.decode()
        for name in ("chatd_connections", "chatd_rooms", "chatd_messages_in_total", "chatd_messages_out_total",
                     "chatd_drops_total"):
            self.assertRegex(text, r"(?m)^%s \d+$" % name)
        self.assertGreaterEqual(int(re.search(r"(?m)^chatd_connections (\d+)$", text).group(1)), 1)

    def test_metrics_loop_load_of_an_idle_server(self):
        """chatd_loop_load_percent: a percentage, and low once the loop has
        been waiting (a 100 ms window that slept most of the time)."""
        time.sleep(0.3)
        self.srv.get("/metrics")  # ends the window that slept
        _, _, body = self.srv.get("/metrics")
        m = re.search(r"(?m)^chatd_loop_load_percent (\d+)$", body.decode())
        self.assertIsNotNone(m, body)
        self.assertLess(int(m.group(1)), 50)

    def test_ws_path_without_upgrade_is_400(self):
        status, _, _ = self.srv.get("/ws/general")
        self.assertEqual(status, 400)


class StaticFilesTest(ChatdTestCase):
    """A temp web root with files, a hidden file and symlinks in and out."""

    @classmethod
    def setUpClass(cls):
        cls.root_parent = tempfile.mkdtemp(prefix="chatd-web-")
        root = os.path.join(cls.root_parent, "www")
        os.makedirs(os.path.join(root, "sub"))
        files = {"index.html": "<!DOCTYPE html><title>t</title>index", "app.js": "console.log(1);\n",
                 "style.css": "body{color:red}\n", "data.json": "{}", "sub/index.html": "<p>sub</p>",
                 ".hidden": "hidden"}
        for name, text in files.items():
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
        with open(os.path.join(cls.root_parent, "outside.txt"), "w") as f:
            f.write("OUTSIDE SECRET")
        os.symlink(os.path.join(cls.root_parent, "outside.txt"), os.path.join(root, "escape.txt"))
        os.symlink("/etc", os.path.join(root, "etc"))
        os.symlink("index.html", os.path.join(root, "alias.html"))
        cls.files = files
        cls.server_kwargs = {"web_root": root}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.root_parent, ignore_errors=True)

    def test_content_types(self):
        for path, ctype, name in [("/", "text/html", "index.html"), ("/index.html", "text/html", "index.html"),
                                  ("/app.js", "javascript", "app.js"), ("/style.css", "text/css", "style.css"),
                                  ("/data.json", "application/json", "data.json"),
                                  ("/sub/", "text/html", "sub/index.html")]:
            with self.subTest(path=path):
                status, headers, body = self.srv.get(path)
                self.assertEqual(status, 200)
                self.assertIn(ctype, headers.get("content-type", ""))
                self.assertEqual(body.decode(), self.files[name])

    def test_missing_is_404(self):
        for path in ("/nope.html", "/sub/nope.js", "/nodir/x"):
            with self.subTest(path=path):
                self.assertEqual(self.srv.get(path)[0], 404)

    def test_traversal_refused(self):
        for path in ("/../etc/passwd", "/../../../../etc/passwd", "/%2e%2e/etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                     "/..%2f..%2fetc%2fpasswd", "/sub/../../outside.txt", "/%2e%2e/outside.txt",
                     "/sub/%2e%2e/%2e%2e/outside.txt", "/..\\outside.txt", "/.hidden"):
            with self.subTest(path=path):
                status, _, body = self.srv.get(path)
                self.assertEqual(status, 404, "GET %s -> %d %r" % (path, status, body[:100]))
                self.assertNotIn(b"root:", body)
                self.assertNotIn(b"OUTSIDE SECRET", body)

    def test_symlink_escape_refused(self):
        for path in ("/escape.txt", "/etc/passwd", "/etc/hostname"):
            with self.subTest(path=path):
                status, _, body = self.srv.get(path)
                self.assertEqual(status, 404, "GET %s -> %d %r" % (path, status, body[:100]))
                self.assertNotIn(b"OUTSIDE SECRET", body)
                self.assertNotIn(b"root:", body)

    def test_symlink_inside_root_served(self):
        status, _, body = self.srv.get("/alias.html")
        self.assertEqual(status, 200)
        self.assertEqual(body.decode(), self.files["index.html"])

    def test_server_still_serves(self):
        self.assertEqual(self.srv.healthz()[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
