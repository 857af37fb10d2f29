#!/usr/bin/python3
"""Building as a user does, from the shipped tree (make distdir) in a folder of its
own, on a machine without the Check library (a pkg-config that does not find it):

- ./configure, run in the tree, prints no "rm: cannot remove 'core'" noise (autoconf
  removes files named core after each test: no directory may be called that) and
  leaves no confdefs.h or conftest file behind;
- it succeeds without Check, saying that make check will need it;
- make builds chatd and the plugins, and the stock config checks;
- make check fails, saying to install Check.
"""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import TOP_BUILDDIR  # noqa: E402

MAKE = os.environ.get("MAKE", "make")

NO_CHECK_PKG_CONFIG = """#!/bin/sh
# pkg-config as on a machine without the Check library
for a in "$@"; do
	case $a in check|check\\ *) echo "Package check was not found (hidden by test_build.py)" >&2; exit 1 ;; esac
done
exec %s "$@"
"""


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MAKE") and k not in ("MFLAGS", "CHECK_CFLAGS", "CHECK_LIBS")}
    env["LC_ALL"] = "C"
    return env


def run(args, cwd, timeout=600):
    return subprocess.run(args, cwd=cwd, env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


class BuildWithoutCheckTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chatd-build-")
        cls.src = os.path.join(cls.tmp, "chatd")
        r = run([MAKE, "-s", "-C", TOP_BUILDDIR, "distdir", "distdir=" + cls.src, "top_distdir=" + cls.src],
                cwd=cls.tmp)
        if r.returncode:
            raise AssertionError("make distdir failed:\n%s%s" % (r.stdout, r.stderr))
        for d, dirs, files in os.walk(cls.src):  # distdir keeps the source's modes; a user owns the copy
            for n in dirs + files:
                p = os.path.join(d, n)
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
        wrapper = os.path.join(cls.tmp, "pkg-config")
        with open(wrapper, "w") as f:
            f.write(NO_CHECK_PKG_CONFIG % shutil.which("pkg-config"))
        os.chmod(wrapper, 0o755)
        cls.configure = run(["./configure", "PKG_CONFIG=" + wrapper], cwd=cls.src)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_1_configure_is_quiet_and_clean(self):
        c = self.configure
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        noise = [ln for ln in (c.stdout + c.stderr).splitlines() if re.match(r"(/usr/bin/)?rm: ", ln)]
        self.assertEqual(noise, [])
        left = sorted(n for n in os.listdir(self.src) if n.startswith(("confdefs", "conftest")))
        self.assertEqual(left, [], "configure left these in the tree")

    def test_2_configure_without_check_warns(self):
        c = self.configure
        self.assertEqual(c.returncode, 0, c.stdout + c.stderr)
        self.assertRegex(c.stderr, r"WARNING: Check not found .*make check will fail until it is installed")

    def test_3_make_builds_and_the_stock_config_checks(self):
        self.assertEqual(self.configure.returncode, 0)
        r = run([MAKE, "-j2"], cwd=self.src)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])
        for so in ("me", "typing", "privmsg", "ratelimit", "origin", "history"):
            self.assertTrue(os.path.exists(os.path.join(self.src, "plugins", so, so + ".so")), so)
        r = run(["./chatd", "-t", "-c", "etc/chatd.conf", "-D", os.path.join(self.tmp, "data")], cwd=self.src)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok (6 plugins)", r.stdout)

    def test_4_make_check_fails_saying_to_install_check(self):
        self.assertEqual(self.configure.returncode, 0)
        r = run([MAKE, "-j2", "check", "TESTS="], cwd=self.src)
        self.assertNotEqual(r.returncode, 0, "make check passed without Check")
        self.assertIn("the Check unit test library", r.stderr)
        self.assertIn("apt-get install check", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
