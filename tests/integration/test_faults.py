#!/usr/bin/python3
"""Start-up faults: every kind of config error, plugins that cannot be loaded
or initialised, a port already in use, a data directory that cannot be
created. Each must stop chatd with the exit code of docs/operations.md
(3 config file, 4 plugin or data directory, 5 cannot listen) and one message
that names the file, the line and the key (or plugin) at fault, both when
starting and with -t (check only)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402

EXIT_CONFIG, EXIT_PLUGIN, EXIT_LISTEN = 3, 4, 5
TEST_PLUGINS = os.path.join(chatdtest.TOP_BUILDDIR, "tests", "plugins")


class FaultTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chatd-faults-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.conf = os.path.join(self.tmp, "chatd.conf")

    def run_chatd(self, text=None, args=(), conf=None, check_only=False, timeout=10):
        """Run chatd on a config (text written to a file first); it must exit by
        itself. Returns (exit code, stderr)."""
        if text is not None:
            with open(self.conf, "w") as f:
                f.write(text)
        argv = [chatdtest.CHATD, "-c", conf or self.conf, "-p", "0", "-P", chatdtest.PLUGIN_DIR,
                "-D", os.path.join(self.tmp, "data"), "-w", chatdtest.WEB_ROOT] + list(args)
        if check_only:
            argv.append("-t")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=self.tmp)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("chatd %r did not exit within %d s: it started despite the fault" % (argv, timeout))
        return proc.returncode, err.decode("utf-8", "replace")

    def assert_fault(self, text, code, line, words, check_only_too=True, conf=None):
        """chatd exits `code`; its message names conf:line and every word."""
        runs = [False, True] if check_only_too else [False]
        for check_only in runs:
            with self.subTest(check_only=check_only):
                rc, err = self.run_chatd(text, conf=conf, check_only=check_only)
                self.assertEqual(rc, code, "exit %d, want %d; stderr: %s" % (rc, code, err))
                where = "%s:%d:" % (conf or self.conf, line) if line else (conf or self.conf)
                msgs = [ln for ln in err.splitlines() if ln.startswith("chatd: ")]
                self.assertEqual(len(msgs), 1, "want one 'chatd: ...' message line: %r" % err)
                self.assertIn(where, msgs[0], "the message does not name %r: %r" % (where, msgs[0]))
                for w in words:
                    self.assertIn(w, msgs[0], "the message does not name %r: %r" % (w, msgs[0]))

    # -- config file (exit 3) ---------------------------------------------------

    def test_unknown_key(self):
        self.assert_fault("[server]\nbind = 127.0.0.1\nprot = 8000\n", EXIT_CONFIG, 3, ["'prot'", "unknown key"])

    def test_bad_values(self):
        for key, value in (("port", "abc"), ("port", "80.5"), ("log_level", "loud"), ("max_frame_bytes", "12q"),
                           ("max_fragments", ""), ("handshake_timeout", "2s"), ("send_queue_bytes", "1G"),
                           ("bind", ""), ("web_root", "")):
            with self.subTest(key=key, value=value):
                self.assert_fault("# a comment\n[server]\n%s = %s\n" % (key, value), EXIT_CONFIG, 3,
                                  ["'%s'" % key], check_only_too=False)

    def test_out_of_range(self):
        for key, value in (("port", "70000"), ("port", "-1"), ("max_message_bytes", "8"),
                           ("max_frame_bytes", "32M"), ("max_fragments", "0"), ("handshake_timeout", "0"),
                           ("fragment_timeout", "3601"), ("max_bad_frames", "0"), ("rx_buffer_size", "64"),
                           ("max_connections", "0"), ("ping_interval", "-5"), ("presence_interval_ms", "1"),
                           ("port", "99999999999999999999999")):
            with self.subTest(key=key, value=value):
                self.assert_fault("[server]\n\n%s = %s\n" % (key, value), EXIT_CONFIG, 3, ["'%s'" % key],
                                  check_only_too=False)

    def test_unknown_section(self):
        for header in ("[srv]", "[plugins me]", "[plugin]", "[ server x ]", "[plugin a/b]"):
            with self.subTest(header=header):
                self.assert_fault("[server]\nbind = 127.0.0.1\n%s\n" % header, EXIT_CONFIG, 3, [],
                                  check_only_too=False)

    def test_duplicate_sections(self):
        self.assert_fault("[server]\nbind = 127.0.0.1\n[server]\n", EXIT_CONFIG, 3, ["[server]"])
        self.assert_fault("[plugin me]\n\n[plugin me]\n", EXIT_CONFIG, 3, ["[plugin me]", "line 1"])

    def test_duplicate_plugin_option(self):
        self.assert_fault("[plugin typing]\nthrottle_ms = 500\nthrottle_ms = 600\n", EXIT_CONFIG, 3,
                          ["'throttle_ms'"])

    def test_key_outside_a_section(self):
        self.assert_fault("# top\nport = 8000\n[server]\n", EXIT_CONFIG, 2, ["'port'", "outside"])

    def test_malformed_lines(self):
        for text, line in (("[server]\njust words\n", 2), ("[server\n", 1), ("[server]\n= 5\n", 2),
                           ("[server]\nbad key = 5\n", 2), ("[server]\nport = 1\x00\n", 2)):
            with self.subTest(text=text):
                self.assert_fault(text, EXIT_CONFIG, line, [], check_only_too=False)

    def test_unreadable_file(self):
        # the tests run as root, which reads a mode-000 file anyway: use paths
        # that cannot be opened (or read) by anybody
        for path, why in ((os.path.join(self.tmp, "missing.conf"), "No such file"),
                          ("/etc/hostname/chatd.conf", "Not a directory"),
                          (self.tmp, "directory")):
            with self.subTest(path=path):
                rc, err = self.run_chatd(conf=path)
                self.assertEqual(rc, EXIT_CONFIG, err)
                self.assertIn("chatd: %s:" % path, err)
                self.assertIn(why, err)

    # Regression: the cross-key checks once named the file and key but no line.
    def test_inconsistent_keys_name_the_line(self):
        self.assert_fault("[server]\nmax_frame_bytes = 64k\nmax_message_bytes = 100k\n", EXIT_CONFIG, 3,
                          ["'max_message_bytes'"], check_only_too=False)
        self.assert_fault("[server]\nsend_queue_bytes = 64k\nsend_queue_soft_bytes = 128k\n", EXIT_CONFIG, 3,
                          ["'send_queue_soft_bytes'"], check_only_too=False)

    def test_inconsistent_keys_exit_3(self):
        rc, err = self.run_chatd("[server]\nmax_frame_bytes = 64k\nmax_message_bytes = 100k\n")
        self.assertEqual(rc, EXIT_CONFIG, err)
        self.assertIn("'max_message_bytes'", err)

    # -- plugins (exit 4) ----------------------------------------------------------

    def test_missing_plugin(self):
        self.assert_fault("[server]\nbind = 127.0.0.1\n\n[plugin nosuch]\n", EXIT_PLUGIN, 4,
                          ["plugin nosuch", "nosuch.so"])

    def test_missing_plugin_path(self):
        path = os.path.join(self.tmp, "gone", "x.so")
        self.assert_fault("[plugin x]\npath = %s\n" % path, EXIT_PLUGIN, 1, ["plugin x", path])

    def test_not_a_shared_object(self):
        path = os.path.join(self.tmp, "fake.so")
        with open(path, "w") as f:
            f.write("not an ELF file\n")
        self.assert_fault("[plugin fake]\npath = fake.so\n", EXIT_PLUGIN, 1, ["plugin fake", path])

    def test_wrong_abi(self):
        path = os.path.join(TEST_PLUGINS, "bad_abi.so")
        if not os.path.exists(path):
            self.skipTest("%s not built (make check builds it)" % path)
        self.assert_fault("[server]\n[plugin badabi]\npath = %s\n" % path, EXIT_PLUGIN, 2, ["plugin badabi", "ABI"])

    def test_no_init_symbol(self):
        path = os.path.join(TEST_PLUGINS, "no_init.so")
        if not os.path.exists(path):
            self.skipTest("%s not built (make check builds it)" % path)
        self.assert_fault("[plugin noinit]\npath = %s\n" % path, EXIT_PLUGIN, 1,
                          ["plugin noinit", "chatd_plugin_init"])

    def test_plugin_init_fails(self):
        # each plugin refuses a bad option in its init: the line is the option's
        for text, line, words in (
                ("[plugin me]\nloud = yes\n", 2, ["plugin me", "'loud'"]),
                ("[plugin typing]\nthrottle_ms = 5\n", 2, ["plugin typing", "'throttle_ms'"]),
                ("[plugin ratelimit]\nmessages_per_second = 5\nmode = loud\n", 3, ["plugin ratelimit", "'mode'"]),
                ("[plugin ratelimit]\nmessage_burst = 0\n", 2, ["plugin ratelimit", "'message_burst'"]),
                ("[plugin origin]\nallow = https://chat.example.org/\n", 2, ["plugin origin", "'allow'"]),
                ("[plugin privmsg]\nalias = w\n", 2, ["plugin privmsg", "'alias'"])):
            with self.subTest(text=text):
                self.assert_fault("[server]\nbind = 127.0.0.1\n" + text, EXIT_PLUGIN, line + 2, words)

    def test_later_plugin_fails_after_good_ones(self):
        self.assert_fault("[plugin me]\n[plugin typing]\n[plugin nosuch]\n[plugin privmsg]\n", EXIT_PLUGIN, 3,
                          ["plugin nosuch"])

    # -- the data directory (exit 4) ------------------------------------------------

    def test_data_dir_cannot_be_created(self):
        # root can write anywhere; a path under a regular file fails for anybody
        # (missing parents are created: test_startup.py)
        blocker = os.path.join(self.tmp, "plain-file")
        open(blocker, "w").close()
        for data in ("/etc/hostname/x", os.path.join(blocker, "such", "parent")):
            with self.subTest(data=data):
                rc, err = self.run_chatd("[server]\nbind = 127.0.0.1\n", args=["-D", data])
                self.assertEqual(rc, EXIT_PLUGIN, err)
                self.assertRegex(err, r"chatd: .*data directory %s: " % re.escape(data))

    def test_data_dir_from_the_file(self):
        with open(self.conf, "w") as f:
            f.write("[server]\nbind = 127.0.0.1\ndata_dir = /etc/hostname/d\n")
        # without -D, which would override the file
        argv = [chatdtest.CHATD, "-c", self.conf, "-p", "0", "-P", chatdtest.PLUGIN_DIR]
        proc = subprocess.run(argv, capture_output=True, timeout=10, cwd=self.tmp)
        self.assertEqual(proc.returncode, EXIT_PLUGIN, proc.stderr)
        self.assertIn(b"data directory /etc/hostname/d:", proc.stderr)

    # -- listening (exit 5) ----------------------------------------------------------

    def test_port_in_use(self):
        holder = chatdtest.listening_socket(chatdtest.HOST, 1)
        self.addCleanup(holder.close)
        port = holder.getsockname()[1]
        with open(self.conf, "w") as f:
            f.write("[server]\nbind = %s\nport = %d\n" % (chatdtest.HOST, port))
        argv = [chatdtest.CHATD, "-c", self.conf, "-D", os.path.join(self.tmp, "data")]
        proc = subprocess.run(argv, capture_output=True, timeout=10, cwd=self.tmp)
        self.assertEqual(proc.returncode, EXIT_LISTEN, proc.stderr)
        self.assertIn(("%s:%d" % (chatdtest.HOST, port)).encode(), proc.stderr)
        # -t does not listen: the same file checks fine
        proc = subprocess.run(argv + ["-t"], capture_output=True, timeout=10, cwd=self.tmp)
        self.assertEqual(proc.returncode, 0, proc.stderr)

    def test_good_config_checks_ok(self):
        rc, err = self.run_chatd("[server]\nbind = 127.0.0.1\n[plugin me]\n[plugin typing]\n[plugin ratelimit]\n"
                                 "[plugin origin]\n[plugin privmsg]\n", check_only=True)
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
