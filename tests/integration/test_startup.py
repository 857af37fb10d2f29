#!/usr/bin/python3
"""Start-up as a new user meets it (issue 14 item 5, server side):

- chatd announces where to open it ("listening on port N: open http://...")
  once it really listens, on the port it got (-p over the file), and run.sh
  no longer announces a port of its own; a busy port exits 5 with a clear
  message and no announcement;
- HEAD on /, /healthz, /metrics and static files answers like GET without a
  body; other methods get 405 with Allow;
- a web root the config or -w names must exist (-t and start-up: exit 3 with
  file, line and key, or the flag); a missing built-in default is warned about
  and / answers a 404 that says the web root is missing;
- the data directory is created with its parents (mode 0750); an error names
  the file, line and key (or -D) and the directory that could not be made.
"""

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
from chatdtest import CHATD, HOST, TOP_SRCDIR, ChatdTestCase, free_port, http_request  # noqa: E402

WEB = os.path.join(TOP_SRCDIR, "web")
EXIT_CONFIG, EXIT_PLUGIN, EXIT_LISTEN = 3, 4, 5


def run(args, cwd=None, timeout=10):
    p = subprocess.run([CHATD] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, cwd=cwd)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def raw_exchange(port, request, timeout=3.0):
    """Send request bytes, read until the server closes; returns all bytes."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    data = b""
    try:
        s.sendall(request)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return data


class Proc:
    """chatd (or run.sh) in the background with its output in a file."""

    def __init__(self, test, args, cwd, env=None):
        self.out_path = os.path.join(cwd, "out-%d.log" % time.monotonic_ns())
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT, env=env)
        test.addCleanup(self.stop)

    def text(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_for(self, words, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if words in self.text():
                return True
            if self.proc.poll() is not None:
                return words in self.text()
            time.sleep(0.05)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


class StartupTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chatd-startup-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def conf(self, text, name="c.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    # -- the announcement and busy ports --------------------------------------

    def test_announces_the_port_it_listens_on(self):
        port = free_port()
        path = self.conf("[server]\nport = 8000\nbind = 127.0.0.1\n")
        p = Proc(self, [CHATD, "-c", path, "-p", str(port), "-w", WEB, "-D", os.path.join(self.tmp, "d")], self.tmp)
        self.assertTrue(p.wait_for("listening on port %d: open http://127.0.0.1:%d/" % (port, port)), p.text())
        self.assertEqual(http_request(port, "/healthz")[0], 200)
        self.assertNotIn("8000", p.text())
        self.assertEqual(p.stop(), 0, p.text())

    def hold_port(self):
        s = chatdtest.listening_socket(HOST, 1)
        self.addCleanup(s.close)
        return s.getsockname()[1]

    def test_busy_port_exits_5_with_a_clear_message(self):
        port = self.hold_port()
        path = self.conf("[server]\nbind = 127.0.0.1\n")
        rc, out, err = run(["-c", path, "-p", str(port), "-w", WEB, "-D", os.path.join(self.tmp, "d")])
        self.assertEqual(rc, EXIT_LISTEN, err)
        self.assertIn("cannot listen on 127.0.0.1:%d: Address already in use" % port, err)
        self.assertIn("choose another port with -p PORT", err)
        self.assertNotIn("listening on port", out + err)

    def fake_checkout(self):
        """A copy of run.sh whose build steps are stubs: what it prints and runs
        is run.sh's own, and ./chatd is the chatd under test."""
        root = os.path.join(self.tmp, "checkout")
        os.makedirs(os.path.join(root, "scripts"))
        os.makedirs(os.path.join(root, "etc"))
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy(os.path.join(TOP_SRCDIR, "run.sh"), root)
        for stub in ("scripts/install-deps", "configure", "bin/make"):
            with open(os.path.join(root, stub), "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(os.path.join(root, stub), 0o755)
        open(os.path.join(root, "Makefile"), "w").close()
        os.symlink(CHATD, os.path.join(root, "chatd"))
        with open(os.path.join(root, "etc", "chatd.conf"), "w") as f:
            f.write("[server]\nport = 8000\nbind = 127.0.0.1\nlog_level = notice\n")
        env = dict(os.environ, PATH=os.path.join(root, "bin") + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        return root, env

    def test_run_sh_announces_the_given_port(self):
        root, env = self.fake_checkout()
        port = free_port()
        p = Proc(self, ["sh", os.path.join(root, "run.sh"), "-p", str(port), "-w", WEB, "-D",
                        os.path.join(self.tmp, "d")], root, env)
        self.assertTrue(p.wait_for("open http://127.0.0.1:%d/" % port), p.text())
        self.assertNotIn("8000", p.text())
        self.assertEqual(http_request(port, "/healthz")[0], 200)
        self.assertEqual(p.stop(), 0, p.text())

    def test_run_sh_on_a_busy_port_announces_nothing(self):
        root, env = self.fake_checkout()
        port = self.hold_port()
        p = Proc(self, ["sh", os.path.join(root, "run.sh"), "-p", str(port), "-w", WEB, "-D",
                        os.path.join(self.tmp, "d")], root, env)
        p.proc.wait(10)
        self.assertEqual(p.proc.returncode, EXIT_LISTEN, p.text())
        self.assertIn("Address already in use", p.text())
        self.assertNotIn("open http", p.text())

    # -- the web root -------------------------------------------------------------

    def test_configured_web_root_missing_fails_check_and_start(self):
        path = self.conf("[server]\nport = 0\n\nweb_root = no-such-web\n")
        for extra in (["-t"], ["-p", str(free_port())]):
            rc, _, err = run(extra + ["-c", path, "-D", os.path.join(self.tmp, "d")])
            self.assertEqual(rc, EXIT_CONFIG, err)
            self.assertIn("%s:4: key 'web_root': web root %s/no-such-web: No such file or directory"
                          % (path, self.tmp), err)

    def test_web_root_flag_missing_fails(self):
        rc, _, err = run(["-t", "-w", os.path.join(self.tmp, "nope"), "-D", os.path.join(self.tmp, "d")])
        self.assertEqual(rc, EXIT_CONFIG, err)
        self.assertIn("-w: web root %s/nope: No such file or directory" % self.tmp, err)

    def test_web_root_that_is_a_file_fails(self):
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        rc, _, err = run(["-t", "-w", f, "-D", os.path.join(self.tmp, "d")])
        self.assertEqual(rc, EXIT_CONFIG, err)
        self.assertIn("not a directory", err)

    def test_default_web_root_missing_warns_and_says_so(self):
        # no config, no -w: the built-in web root is where make install puts it (chatd -h
        # names it); this build is not installed there
        import re
        default = re.search(r"^  -w DIR .*\n\s+\(default (.*)\)$", run(["-h"])[1], re.M).group(1)
        if os.path.exists(default):
            self.skipTest("chatd is installed here: its built-in web root %s exists" % default)
        port = free_port()
        p = Proc(self, [CHATD, "-p", str(port), "-D", os.path.join(self.tmp, "d")], self.tmp)
        self.assertTrue(p.wait_for("listening on port %d" % port), p.text())
        self.assertIn("warn: web root %s: No such file or directory; it is the built-in default of 'web_root'"
                      % default, p.text())
        status, hdrs, body = http_request(port, "/")
        self.assertEqual(status, 404)
        self.assertIn(b"no web root", body)
        self.assertEqual(http_request(port, "/healthz")[0], 200)  # the chat itself works
        rc, out, err = run(["-t", "-D", os.path.join(self.tmp, "d")], cwd=self.tmp)
        self.assertEqual(rc, 0, err)
        self.assertIn("web root %s: No such file or directory" % default, err)
        self.assertEqual(p.stop(), 0, p.text())

    # -- the data directory -------------------------------------------------------

    def test_data_dir_created_with_parents(self):
        d = os.path.join(self.tmp, "a", "b", "c")
        path = self.conf("[server]\ndata_dir = a/b/c\n")
        rc, _, err = run(["-t", "-c", path, "-w", WEB])
        self.assertEqual(rc, 0, err)
        for sub in ("a", "a/b", "a/b/c"):
            st = os.stat(os.path.join(self.tmp, sub))
            self.assertTrue(stat.S_ISDIR(st.st_mode), sub)
            self.assertEqual(stat.S_IMODE(st.st_mode) & 0o7027, 0o750 & 0o7027, "%s: %o" % (sub, st.st_mode))
        self.assertTrue(os.path.isdir(d))

    def test_data_dir_error_names_file_line_key(self):
        blocker = os.path.join(self.tmp, "plain-file")
        open(blocker, "w").close()
        path = self.conf("[server]\nport = 0\ndata_dir = plain-file/data\n")
        rc, _, err = run(["-t", "-c", path, "-w", WEB])
        self.assertEqual(rc, EXIT_PLUGIN, err)
        self.assertIn("%s:3: key 'data_dir': data directory %s/plain-file/data: cannot create %s/plain-file: "
                      "Not a directory" % (path, self.tmp, self.tmp), err)
        rc, _, err = run(["-t", "-D", blocker + "/x", "-w", WEB])
        self.assertEqual(rc, EXIT_PLUGIN, err)
        self.assertIn("-D: data directory %s/x: cannot create %s: Not a directory" % (blocker, blocker), err)


class HeadTest(ChatdTestCase):
    """HEAD answers like GET, headers only (uptime checkers use it)."""

    def head(self, path):
        data = raw_exchange(self.port, ("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        head, sep, rest = data.partition(b"\r\n\r\n")
        self.assertTrue(sep, data[:200])
        lines = head.decode("latin-1").split("\r\n")
        hdrs = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        return int(lines[0].split()[1]), hdrs, rest

    def test_head_like_get_without_body(self):
        for path in ("/", "/healthz", "/metrics", "/index.html", "/app.js", "/style.css", "/favicon.svg",
                     "/no-such-file", "/ws/general"):
            with self.subTest(path):
                status, hdrs, rest = self.head(path)
                gstatus, ghdrs, gbody = http_request(self.port, path)
                self.assertEqual(status, gstatus)
                self.assertEqual(rest, b"", "a HEAD answer carries no body")
                self.assertEqual(hdrs.get("content-type"), ghdrs.get("content-type"))
                if path != "/metrics":  # its counters move between the two requests
                    self.assertEqual(int(hdrs["content-length"]), len(gbody))
        self.assertEqual(self.head("/")[0], 200)
        self.assertEqual(self.head("/healthz")[0], 200)

    def test_head_then_get_on_one_connection(self):
        data = raw_exchange(self.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                       b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 2, data)
        self.assertTrue(data.endswith(b'"rooms":0}\n'), data[-80:])
        self.assertEqual(data.count(b'"status":"ok"'), 1, data)

    def test_other_methods_405_with_allow(self):
        status, hdrs, body = http_request(self.port, "/", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(hdrs.get("allow"), "GET, HEAD")
        self.assertEqual(body, b"method not allowed: use GET or HEAD\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
