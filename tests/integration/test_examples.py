"""The example plugins of examples/ as a third party meets them: `make install`
of this build into a temporary DESTDIR, each example copied out of the tree and
built with exactly the command its header comment gives (`cc ... $(pkg-config
--cflags chatd-plugin) ...`, `c++ ...` for the C++ one) against the installed
SDK only, without a single warning, then loaded into a running chatd (with the
installed stock plugins) and used over WebSocket:

- roll (C): a slash command whose result goes to the room;
- wordfilter (C++): masks or refuses words in room AND private messages, refuses
  names, reloads its word list on SIGHUP;
- tokenauth (C): HMAC-SHA256 tokens (made here with Python's hmac) from ?token=,
  a cookie or a Bearer header give the name; 401 otherwise, or guests;
- hello built against the header of ABI 1 as first released (d964eb2): an old
  out-of-tree plugin keeps working unchanged.
"""

import hashlib
import hmac
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import wsclient
from chatdtest import TOP_BUILDDIR, TOP_SRCDIR, ChatdServer, main, write_config

OLD_HEADER_DIR = os.path.join(TOP_SRCDIR, "tests", "sdk", "abi1-d964eb2")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    env.update(extra)
    return env


def documented_command(source):
    """The build command in the header comment of source (a line that starts
    with cc or c++ and names the file)."""
    name = os.path.basename(source)
    with open(source) as f:
        for line in f:
            line = line.strip(" */\n")
            if re.match(r"^(cc|c\+\+) ", line) and name in line:
                return line
    raise AssertionError("%s documents no build command" % source)



class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chatd-examples-")
        root = os.path.join(cls.tmp, "root")
        r = subprocess.run([os.environ.get("MAKE", "make"), "-s", "-C", TOP_BUILDDIR, "install", "DESTDIR=" + root],
                           env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise AssertionError("make install failed\n%s%s" % (r.stdout, r.stderr))
        found = {f: d for d, _, fs in os.walk(root) for f in fs if f in ("chatd-plugin.pc", "privmsg.so")}
        cls.pc_dir, cls.plugin_dir = found["chatd-plugin.pc"], found["privmsg.so"]
        # pkg-config finds the installed .pc and prefixes its paths with the DESTDIR
        cls.env = clean_env(PKG_CONFIG_PATH=cls.pc_dir, PKG_CONFIG_SYSROOT_DIR=root)
        cls.root = root

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_plugindir_names_where_the_stock_plugins_went(self):
        """docs/plugins.md: `pkg-config --variable=plugindir chatd-plugin` is where to install a plugin."""
        out = subprocess.run(["pkg-config", "--variable=plugindir", "chatd-plugin"], env=self.env,
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(os.path.realpath(out), os.path.realpath(self.plugin_dir))

    def build(self, example, source):
        """Copy examples/EXAMPLE away from the tree and run its documented command there."""
        src = os.path.join(self.tmp, example)
        if not os.path.isdir(src):
            shutil.copytree(os.path.join(TOP_SRCDIR, "examples", example), src)
            os.chmod(src, 0o755)  # a read-only source tree (make distcheck) gives a read-only copy
        cmd = documented_command(os.path.join(src, source))
        r = subprocess.run(["sh", "-c", cmd], cwd=src, env=self.env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "%s\n%s" % (cmd, r.stderr))
        self.assertEqual(r.stderr, "", "%s warns" % cmd)
        cflags = subprocess.run(["pkg-config", "--cflags", "chatd-plugin"], env=self.env, capture_output=True,
                                text=True, check=True).stdout
        self.assertIn("-I" + self.root, cflags)
        so = os.path.join(src, re.search(r"-o (\S+\.so)", cmd).group(1))
        self.assertTrue(os.path.isfile(so), so)
        return so

    def server(self, config):
        srv = ChatdServer(config, plugin_dir=self.plugin_dir)
        srv.start()
        self.addCleanup(srv.kill)
        self.addCleanup(srv.cleanup)
        return srv

    def join(self, srv, room, name=None, **kw):
        ws = srv.connect(room, name, **kw)
        self.addCleanup(ws.close)
        return ws, ws.expect(type="welcome")

    # ---- roll -----------------------------------------------------------

    def test_roll(self):
        so = self.build("roll", "roll.c")
        srv = self.server({"plugin roll": {"path": so, "max_dice": 5}})
        ann, welcome = self.join(srv, "dice", "Ann")
        self.assertIn({"name": "roll", "usage": "/roll [NdM][+K]",
                       "help": "roll dice for the room to see (/roll 2d6+1)"}, welcome["commands"])
        bob, _ = self.join(srv, "dice", "Bob")
        ann.send_json({"type": "message", "text": "/roll 3d6+2", "client_id": "r1"})
        m = bob.expect(type="message")
        got = re.fullmatch(r"\U0001F3B2 Ann rolls 3d6\+2: (\d) \+ (\d) \+ (\d) \+ 2 = (\d+)", m["text"])
        self.assertIsNotNone(got, m["text"])
        dice = [int(g) for g in got.groups()[:3]]
        self.assertTrue(all(1 <= d <= 6 for d in dice), dice)
        self.assertEqual(int(got.group(4)), sum(dice) + 2)
        self.assertEqual(ann.expect(type="message")["client_id"], "r1")
        ann.send_json({"type": "message", "text": "/ROLL", "client_id": "r2"})
        self.assertRegex(ann.expect(type="message")["text"], r"^\U0001F3B2 Ann rolls 1d6: [1-6]$")
        for bad in ("/roll 6d6", "/roll 2d1", "/roll two"):
            ann.send_json({"type": "message", "text": bad, "client_id": "bad"})
            e = ann.expect(type="error")
            self.assertEqual((e["code"], e["client_id"]), ("bad_request", "bad"))
            self.assertIn("usage: /roll", e["message"])
        srv.stop()

    # ---- wordfilter (C++) -----------------------------------------------

    def test_wordfilter_masks_rooms_private_messages_and_names(self):
        so = self.build("wordfilter", "wordfilter.cc")
        srv = self.server({"plugin privmsg": {}, "plugin wordfilter": {"path": so, "words": "darn Heck ass"}})
        ann, _ = self.join(srv, "wf", "Ann")
        bob, _ = self.join(srv, "wf-other", "Bob")
        ann.send_json({"type": "message", "text": "oh DARN, what a classic heck-of-a-day"})
        self.assertEqual(ann.expect(type="message")["text"], "oh D***, what a classic h***-of-a-day")
        # private messages go through the filter too (CHATD_EV_PRIVATE): /msg and the private frame
        ann.send_json({"type": "message", "text": "/msg bob darn it", "client_id": "p1"})
        self.assertEqual(bob.expect(type="private")["text"], "d*** it")
        self.assertEqual(ann.expect(type="private")["client_id"], "p1")
        ann.send_json({"type": "private", "to": "Bob", "text": "Heck, no", "client_id": "p2"})
        self.assertEqual(bob.expect(type="private")["text"], "H***, no")
        self.assertEqual(ann.expect(type="private", client_id="p2")["text"], "H***, no")
        # names: refused at connect (a guest, told why) and on rename
        carl, welcome = self.join(srv, "wf", "Darn Carl")
        self.assertTrue(welcome["username"].startswith("guest-"), welcome)
        e = carl.expect(type="error")
        self.assertEqual(e["code"], "name_refused")
        self.assertIn("you are " + welcome["username"], e["message"])
        bob.send_json({"type": "nick", "username": "heck"})
        self.assertEqual(bob.expect(type="error")["code"], "name_refused")
        bob.send_json({"type": "nick", "username": "darnell"})  # not a whole word
        self.assertEqual(bob.expect(type="system", event="rename")["username"], "darnell")
        # SIGHUP: a new list, and deny instead of mask
        srv.config["plugin wordfilter"] = {"path": so, "words": "gosh", "action": "deny"}
        write_config(srv.config_path, dict(srv.config, server=dict(srv.config["server"])))
        srv.send_signal(signal.SIGHUP)
        self.assertTrue(srv.wait_stderr("plugin wordfilter took its new options"), srv.stderr()[-2000:])
        ann.send_json({"type": "message", "text": "gosh", "client_id": "g"})
        e = ann.expect(type="error")
        self.assertEqual((e["code"], e["client_id"]), ("filtered", "g"))
        ann.send_json({"type": "private", "to": "darnell", "text": "oh gosh", "client_id": "g2"})
        e = ann.expect(type="error")
        self.assertEqual((e["code"], e["client_id"]), ("filtered", "g2"))
        bob.expect_silence(0.3)
        ann.send_json({"type": "message", "text": "darn is fine now"})
        self.assertEqual(ann.expect(type="message")["text"], "darn is fine now")
        srv.stop()

    def test_wordfilter_refuses_bad_options(self):
        so = self.build("wordfilter", "wordfilter.cc")
        conf = os.path.join(self.tmp, "wf-bad.conf")
        with open(conf, "w") as f:
            f.write("[plugin wordfilter]\npath = %s\naction = shout\n" % so)
        chatd = os.environ.get("CHATD") or os.path.join(TOP_BUILDDIR, "chatd")
        r = subprocess.run([chatd, "-t", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 4, r)
        self.assertIn("%s:3: plugin wordfilter: option 'action': must be mask or deny" % conf, r.stderr)

    # ---- tokenauth --------------------------------------------------------

    SECRET = b"correct horse battery staple 42"

    def token(self, name, expiry=None, secret=None):
        expiry = int(time.time()) + 3600 if expiry is None else expiry
        signed = ("%s.%d" % (name, expiry)).encode()
        mac = hmac.new(secret or self.SECRET, signed, hashlib.sha256).hexdigest()
        return "%s.%d.%s" % (name, expiry, mac)

    @staticmethod
    def tampered(token):
        """token with the last hex digit of its signature changed (to another one)."""
        return token[:-1] + ("1" if token[-1] == "0" else "0")

    def tokenauth_server(self, **options):
        so = self.build("tokenauth", "tokenauth.c")
        secret = os.path.join(self.tmp, "token.secret")
        with open(secret, "wb") as f:
            f.write(self.SECRET + b"\n")
        os.chmod(secret, 0o600)
        return self.server({"plugin tokenauth": dict({"path": so, "secret_file": secret}, **options)})

    def test_tokenauth_required(self):
        srv = self.tokenauth_server()
        # ?token= (the name may hold dots and spaces), a cookie, a Bearer header
        _, w = self.join(srv, "auth", query={"token": self.token("Dr. Ann Lee")})
        self.assertEqual(w["username"], "Dr. Ann Lee")
        ws, w = self.join(srv, "auth", headers={"Cookie": "theme=x; chatd_token=" + self.token("bob")})
        self.assertEqual(w["username"], "bob")
        _, w = self.join(srv, "auth", headers={"Authorization": "Bearer " + self.token("cy")})
        self.assertEqual(w["username"], "cy")
        # ?name= does not beat the token
        _, w = self.join(srv, "auth", "Mallory", query={"token": self.token("dee")})
        self.assertEqual(w["username"], "dee")
        # renames are refused
        ws.send_json({"type": "nick", "username": "admin"})
        e = ws.expect(type="error")
        self.assertEqual((e["code"], e["message"]), ("rename_not_allowed", "your name comes from your sign-in"))
        # refusals: 401 with the reason in the body
        for query, headers, why in (
                (None, None, "sign in first: no token"),
                ({"token": self.token("eve", expiry=int(time.time()) - 5)}, None, "token expired"),
                ({"token": self.token("eve", secret=b"another secret, not ours!")}, None, "bad token signature"),
                ({"token": self.tampered(self.token("eve"))}, None, "bad token signature"),
                ({"token": "eve.123"}, None, "malformed token"),
                (None, {"Authorization": "Basic abc"}, "sign in first: no token")):
            resp = self.upgrade(srv, query, headers)
            self.assertEqual(resp.status, 401, (query, headers))
            self.assertIn(why.encode(), resp.body)
        srv.stop()

    def upgrade(self, srv, query, headers):
        """The handshake's answer (not upgraded: 401 and its body)."""
        ws = wsclient.WSClient(srv.port, wsclient.ws_path("auth", query=query), headers=headers)
        return ws.handshake()

    def test_tokenauth_guests(self):
        srv = self.tokenauth_server(required="no")
        guest, w = self.join(srv, "auth", "Admin")
        self.assertTrue(w["username"].startswith("guest-"), w)
        e = guest.expect(type="error")
        self.assertEqual(e["code"], "sign_in_required")
        guest.send_json({"type": "nick", "username": "Admin"})
        self.assertEqual(guest.expect(type="error")["message"], "sign in to use a name")
        _, w = self.join(srv, "auth", query={"token": self.token("Admin")})
        self.assertEqual(w["username"], "Admin")
        srv.stop()

    # ---- an old plugin ------------------------------------------------------

    def test_plugin_built_against_the_first_abi1_header(self):
        """examples/hello built out of tree against the header of d964eb2 (ABI 1 as
        first released, kept in tests/sdk/abi1-d964eb2) loads and works."""
        git = subprocess.run(["git", "-C", TOP_SRCDIR, "show", "d964eb2:include/chatd/plugin.h"],
                             capture_output=True)
        if git.returncode == 0:  # a git checkout: the kept copy is that header, byte for byte
            with open(os.path.join(OLD_HEADER_DIR, "chatd", "plugin.h"), "rb") as f:
                self.assertEqual(f.read(), git.stdout)
        src = os.path.join(self.tmp, "oldhello")
        os.makedirs(src, exist_ok=True)
        shutil.copy(os.path.join(TOP_SRCDIR, "examples", "hello", "hello.c"), src)
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I" + OLD_HEADER_DIR,
                        "hello.c", "-o", "hello.so"], cwd=src, check=True)
        srv = self.server({"plugin hello": {"path": os.path.join(src, "hello.so"), "greeting": "Welcome back"},
                           "plugin me": {}})
        ws, _ = self.join(srv, "old", "Ann")
        self.assertEqual(ws.expect(type="system", event="hello")["message"], "Welcome back, Ann!")
        ws.send_json({"type": "hello"})
        self.assertEqual(ws.expect(type="hello")["greeted"], 1)
        ws.send_json({"type": "message", "text": "/me waves"})
        self.assertEqual(ws.expect(type="message")["text"], "* Ann waves")
        srv.stop()


if __name__ == "__main__":
    main()
