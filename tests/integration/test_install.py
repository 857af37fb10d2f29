#!/usr/bin/python3
"""chatd installed as a user or a packager installs it, run from its installed
config unchanged (README "Install").

From `make check`: `make install` of this build into a temporary prefix (every
directory variable under it), then: each file is where the GNU layout puts it,
the installed chatd.conf is etc/chatd.conf with web_root, data_dir and
plugin_dir naming the installed places, `chatd -t -c PREFIX/etc/chatd.conf`
passes, and `PREFIX/bin/chatd -c PREFIX/etc/chatd.conf` (run from elsewhere,
only -p added) serves the installed client at / and chats over WebSocket with
the stock plugins (/me, typing, /msg; history replays after a restart from
PREFIX/var/lib/chatd). `chatd -h` names the configured install paths as its
built-in defaults.

From `make installcheck` (Makefile.am sets CHATD_INSTALLED_* to the configured
directories; `make distcheck` runs it on its own prefix): the same against that
install, except that the chat run keeps its data in a temporary directory (-D:
an installed data directory may hold real data), plus chatd without -c, which
must find the installed web root and plugins by itself.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsclient  # noqa: E402
from chatdtest import TOP_BUILDDIR, TOP_SRCDIR, free_port, http_request  # noqa: E402

STOCK_PLUGINS = ("origin", "ratelimit", "typing", "privmsg", "me", "history")
INSTALLED = os.environ.get("CHATD_INSTALLED_BINDIR") is not None


def clean_env(**extra):
    """The environment without make's own variables (no jobserver, no -j from the parent)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    env.update(extra)
    return env


def make(*args):
    r = subprocess.run([os.environ.get("MAKE", "make"), "-s", "-C", TOP_BUILDDIR] + list(args),
                       env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if r.returncode:
        raise AssertionError("make %s failed (%d)\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def configured_dirs():
    """The install directories as ./configure set them (make print-install-dirs)."""
    return dict(line.split("=", 1) for line in make("print-install-dirs").splitlines() if "=" in line)


class Chatd:
    """An installed chatd started by hand: its own binary, config and working directory."""

    def __init__(self, binary, args, cwd):
        for _ in range(5):
            if self._start(binary, args, cwd):
                return
        raise AssertionError("chatd found no free port in 5 tries:\n%s" % self.output())

    def _start(self, binary, args, cwd):
        """True when up; False when the port was taken meanwhile (exit 5: try another)."""
        self.port = free_port()
        self.log = os.path.join(cwd, "chatd-%d.log" % self.port)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([binary] + list(args) + ["-p", str(self.port), "-l", "info"],
                                         cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if self.proc.returncode == 5:
                    return False
                raise AssertionError("chatd exited %d at start:\n%s" % (self.proc.returncode, self.output()))
            try:
                if http_request(self.port, "/healthz", timeout=1.0)[0] == 200:
                    return True
            except (OSError, AssertionError):
                pass
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError("chatd did not answer /healthz within 10 s:\n%s" % self.output())

    def output(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("chatd did not stop within 5 s of SIGTERM:\n%s" % self.output())
        if self.proc.returncode != 0:
            raise AssertionError("chatd exited %d:\n%s" % (self.proc.returncode, self.output()))


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chatd-install-")
        if INSTALLED:
            env = os.environ
            cls.dirs = {k: env["CHATD_INSTALLED_" + k.upper()]
                        for k in ("bindir", "sysconfdir", "webdir", "plugindir", "statedir", "includedir",
                                  "pkgconfigdir")}
            return
        p = os.path.join(cls.tmp, "prefix")
        make("install", "DESTDIR=", "prefix=" + p, "exec_prefix=" + p, "bindir=%s/bin" % p, "libdir=%s/lib" % p,
             "includedir=%s/include" % p, "datarootdir=%s/share" % p, "datadir=%s/share" % p,
             "sysconfdir=%s/etc" % p, "localstatedir=%s/var" % p)
        # the GNU layout a packager expects
        cls.dirs = {"bindir": p + "/bin", "sysconfdir": p + "/etc", "webdir": p + "/share/chatd/web",
                    "plugindir": p + "/lib/chatd/plugins", "statedir": p + "/var/lib/chatd",
                    "includedir": p + "/include", "pkgconfigdir": p + "/lib/pkgconfig"}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, key, *rest):
        return os.path.join(self.dirs[key], *rest)

    @property
    def chatd(self):
        return self.path("bindir", "chatd")

    @property
    def conf(self):
        return self.path("sysconfdir", "chatd.conf")

    def run_chatd(self, *args, cwd=None):
        return subprocess.run([self.chatd] + list(args), cwd=cwd or self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)

    # -- where the files went ----------------------------------------------------

    def test_files_are_where_a_packager_expects_them(self):
        self.assertTrue(os.access(self.chatd, os.X_OK), self.chatd)
        self.assertTrue(os.path.isfile(self.conf), self.conf)
        self.assertTrue(os.path.isdir(self.path("statedir")), self.path("statedir"))
        for name in STOCK_PLUGINS:
            self.assertTrue(os.path.isfile(self.path("plugindir", name + ".so")), name)
        self.assertTrue(os.path.isfile(self.path("includedir", "chatd", "plugin.h")))
        self.assertTrue(os.path.isfile(self.path("pkgconfigdir", "chatd-plugin.pc")))
        web = os.path.join(TOP_SRCDIR, "web")
        want = sorted(os.path.relpath(os.path.join(d, f), web) for d, _, fs in os.walk(web) for f in fs)
        got = sorted(os.path.relpath(os.path.join(d, f), self.path("webdir"))
                     for d, _, fs in os.walk(self.path("webdir")) for f in fs)
        self.assertEqual(got, want, "the installed web root is not the client in web/")

    def test_installed_config_names_the_installed_places(self):
        with open(self.conf) as f:
            installed = f.read().splitlines()
        with open(os.path.join(TOP_SRCDIR, "etc", "chatd.conf")) as f:
            source = f.read().splitlines()
        keys = {"web_root": self.path("webdir"), "data_dir": self.path("statedir"),
                "plugin_dir": self.path("plugindir")}
        got = {}
        for line in installed:
            m = re.match(r"\s*(web_root|data_dir|plugin_dir)\s*=\s*(.*?)\s*$", line)
            if m:
                got[m.group(1)] = m.group(2)
        self.assertEqual(got, keys)
        # everything else is the development config, line for line
        strip = [ln for ln in installed if not re.match(r"\s*(web_root|data_dir|plugin_dir)\s*=", ln)
                 and not ln.startswith("# Installed by make install")]
        self.assertEqual(strip, [ln for ln in source if not re.match(r"\s*(web_root|data_dir|plugin_dir)\s*=", ln)])

    def test_installed_config_checks(self):
        r = self.run_chatd("-t", "-c", self.conf, *(("-D", self.tmp + "/t-data") if INSTALLED else ()))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("%s: ok (%d plugins)" % (self.conf, len(STOCK_PLUGINS)), r.stdout)

    def test_built_in_defaults_are_the_install_paths(self):
        text = self.run_chatd("-h").stdout
        dirs = self.dirs if INSTALLED else configured_dirs()
        for flag, key in (("-w", "webdir"), ("-D", "statedir"), ("-P", "plugindir")):
            m = re.search(r"^  %s DIR .*\n\s+\(default (.*)\)$" % flag, text, re.M)
            self.assertTrue(m, "no default for %s in chatd -h:\n%s" % (flag, text))
            self.assertEqual(m.group(1), dirs[key], flag)
        self.assertIn("make install put one at %s/chatd.conf" % dirs["sysconfdir"], text)

    # -- the installed chatd at work --------------------------------------------

    def test_runs_from_the_installed_config_and_chats_with_its_plugins(self):
        data = ["-D", os.path.join(self.tmp, "run-data")] if INSTALLED else []
        srv = Chatd(self.chatd, ["-c", self.conf] + data, cwd=self.tmp)
        try:
            self.assertIn("%d plugins" % len(STOCK_PLUGINS), srv.output())
            status, hdrs, body = http_request(srv.port, "/")
            self.assertEqual(status, 200)
            self.assertTrue(hdrs.get("content-type", "").startswith("text/html"), hdrs)
            with open(self.path("webdir", "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
            self.assertEqual(http_request(srv.port, "/app.js")[0], 200)

            room = "installed-%d" % os.getpid()
            ann = wsclient.connect(srv.port, room, "Ann")
            bob = wsclient.connect(srv.port, room, "Bob")
            try:
                ann.expect(type="welcome")
                bob.expect(type="welcome")
                ann.expect(type="system", event="join", username="Bob")
                ann.send_json({"type": "message", "text": "hello from the installed chatd"})
                m = bob.expect(type="message")
                self.assertEqual((m["username"], m["text"]), ("Ann", "hello from the installed chatd"))
                ann.send_json({"type": "message", "text": "/me waves"})          # plugin me
                self.assertEqual(bob.expect(type="message")["text"], "* Ann waves")
                ann.send_json({"type": "typing"})                                # plugin typing
                self.assertEqual(bob.expect(type="typing")["username"], "Ann")
                ann.send_json({"type": "message", "text": "/msg Bob just you"})   # plugin privmsg
                p = bob.expect(type="private")
                self.assertEqual((p["from"], p["to"], p["text"]), ("Ann", "Bob", "just you"))
            finally:
                ann.close()
                bob.close()
        finally:
            srv.stop()
        # plugin history: what was said is replayed after a restart, from the data directory
        if not INSTALLED:
            self.assertTrue(os.path.isfile(self.path("statedir", "history.db")),
                            os.listdir(self.path("statedir")))
        srv = Chatd(self.chatd, ["-c", self.conf] + data, cwd=self.tmp)
        try:
            cid = wsclient.connect(srv.port, room, "Cid")
            try:
                cid.expect(type="welcome")
                m = cid.expect(type="message", text="* Ann waves")
                self.assertIs(m.get("history"), True, m)
            finally:
                cid.close()
        finally:
            srv.stop()

    @unittest.skipUnless(INSTALLED, "the built-in paths are those of the configured prefix, "
                                    "not of this test's own install (make installcheck runs this)")
    def test_without_a_config_it_finds_the_installed_files(self):
        r = self.run_chatd("-t", "-D", os.path.join(self.tmp, "t-data"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("web root", r.stderr)
        conf = os.path.join(self.tmp, "only-me.conf")
        with open(conf, "w") as f:
            f.write("[plugin me]\n")
        r = self.run_chatd("-t", "-c", conf, "-D", os.path.join(self.tmp, "t-data"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok (1 plugin)", r.stdout)
        srv = Chatd(self.chatd, ["-D", os.path.join(self.tmp, "d-data")], cwd=self.tmp)
        try:
            status, _, body = http_request(srv.port, "/")
            self.assertEqual(status, 200)
            with open(self.path("webdir", "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
        finally:
            srv.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
