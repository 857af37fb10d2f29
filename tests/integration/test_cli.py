#!/usr/bin/python3
"""The command line: -h, -V, -t on good and bad configs, -p over the file's port."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import CHATD, PLUGIN_DIR, TOP_SRCDIR, free_port, http_request  # noqa: E402

EXIT_USAGE, EXIT_CONFIG, EXIT_PLUGIN = 2, 3, 4


def run(*args, timeout=10):
    p = subprocess.run([CHATD] + list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class CliTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="chatd-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def conf(self, text, name="bad.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_help(self):
        for arg in ("-h", "--help"):
            rc, out, err = run(arg)
            self.assertEqual(rc, 0, err)
            self.assertEqual(err, "", arg)
            self.assertIn("Usage:", out)
            for flag in ("-c", "-t", "-p", "-w", "-D", "-P", "-l", "-h", "--help", "-V", "--version"):
                self.assertIn(flag, out)

    def test_version(self):
        for arg in ("-V", "--version"):
            rc, out, err = run(arg)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"chatd \d+\.\d+\.\d+")

    def test_unknown_long_option_is_usage_error(self):
        rc, out, err = run("--bogus")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("unrecognized option '--bogus'", err)
        self.assertIn("Usage:", err)

    def test_bad_flag_is_usage_error(self):
        rc, out, err = run("-Z")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("Usage:", err)
        rc, _, err = run("-p", "notaport", "-t")
        self.assertEqual(rc, EXIT_USAGE, err)

    def test_check_stock_config(self):
        conf = os.path.join(TOP_SRCDIR, "etc", "chatd.conf")
        # -P: the plugins are built in the build tree (the same tree in-place)
        rc, out, err = run("-t", "-c", conf, "-P", PLUGIN_DIR)
        self.assertEqual(rc, 0, "stdout %r stderr %r" % (out, err))
        self.assertIn("ok", out)

    def test_check_good_temp_config(self):
        path = self.conf("[server]\nport = 8123\nsend_queue_bytes = 1M   # comment\n\n[plugin me]\nprefix = \"+\"\n",
                         "good.conf")
        rc, out, err = run("-t", "-c", path, "-P", PLUGIN_DIR)
        self.assertEqual(rc, 0, err)

    def assert_config_error(self, text, line, words, code=EXIT_CONFIG):
        path = self.conf(text)
        rc, out, err = run("-t", "-c", path, "-P", PLUGIN_DIR)
        self.assertNotEqual(rc, 0, "accepted:\n%s" % text)
        self.assertEqual(rc, code, "exit %d, stderr %r" % (rc, err))
        self.assertIn(path, err, "the error must name the file")
        self.assertRegex(err, r"%s:%d\b" % (re.escape(path), line), "the error must name line %d: %r" % (line, err))
        for w in words:
            self.assertIn(w, err)

    def test_unknown_key(self):
        self.assert_config_error("[server]\nport = 8000\nprot = 8001\n", 3, ["prot"])

    def test_bad_number(self):
        self.assert_config_error("[server]\n\nmax_message_bytes = lots\n", 3, ["max_message_bytes", "lots"])

    def test_number_out_of_range(self):
        self.assert_config_error("[server]\nport = 70000\n", 2, ["port"])

    def test_bad_size_suffix(self):
        self.assert_config_error("[server]\nsend_queue_bytes = 1G\n", 2, ["send_queue_bytes"])

    def test_unknown_section(self):
        self.assert_config_error("[server]\nport = 8000\n\n[servre]\n", 4, ["servre"])

    def test_key_outside_section(self):
        self.assert_config_error("port = 8000\n", 1, ["port"])

    def test_plugin_with_missing_so(self):
        self.assert_config_error("[server]\n[plugin nosuchplugin]\n", 2, ["nosuchplugin"], code=EXIT_PLUGIN)

    def test_plugin_with_unknown_option(self):
        self.assert_config_error("[server]\n\n[plugin me]\nprefix = *\nshout = yes\n", 5, ["me", "shout"],
                                 code=EXIT_PLUGIN)

    def test_plugin_with_bad_option_value(self):
        self.assert_config_error("[plugin me]\nprefix = 0123456789abcdefXYZ\n", 2, ["me", "prefix"], code=EXIT_PLUGIN)

    def test_missing_config_file(self):
        missing = os.path.join(self.tmp, "nope.conf")
        rc, _, err = run("-t", "-c", missing)
        self.assertEqual(rc, EXIT_CONFIG)
        self.assertIn(missing, err)

    def test_bad_config_refuses_to_start(self):
        # not only -t: a real start with a bad file exits non-zero at once
        path = self.conf("[server]\nprot = 1\n")
        rc, _, err = run("-c", path, "-p", str(free_port()), "-D", os.path.join(self.tmp, "d"), timeout=10)
        self.assertEqual(rc, EXIT_CONFIG, err)
        self.assertIn("prot", err)

    def test_port_flag_overrides_file(self):
        file_port = free_port()
        flag_port = free_port()
        while flag_port == file_port:
            flag_port = free_port()
        path = self.conf("[server]\nport = %d\nbind = 127.0.0.1\n" % file_port, "port.conf")
        proc = subprocess.Popen([CHATD, "-c", path, "-p", str(flag_port), "-D", os.path.join(self.tmp, "data"),
                                 "-w", os.path.join(TOP_SRCDIR, "web")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 5
            status = None
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    status = http_request(flag_port, "/healthz", timeout=1)[0]
                    break
                except (OSError, AssertionError):
                    time.sleep(0.05)
            self.assertEqual(status, 200, "not listening on the -p port %d" % flag_port)
            with self.assertRaises(OSError, msg="also listening on the file's port"):
                http_request(file_port, "/healthz", timeout=1)
        finally:
            proc.terminate()
            try:
                rc = proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = None
            err = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
