"""The plugin SDK from the outside: install only the public header and the
pkg-config file (make install into a temporary DESTDIR), build
examples/hello/hello.c out of tree with nothing but `pkg-config --cflags
chatd-plugin`, and load it into a running chatd."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from chatdtest import TOP_BUILDDIR, TOP_SRCDIR, ChatdServer, main


# A plugin that needs POSIX (strndup) and keeps its first 3 bytes of a message.
POSIX_PLUGIN = r"""
#include <chatd/plugin.h>
#include <stdlib.h>
#include <string.h>

static const struct chatd_api *api;

static int cut(int id, void *event, void *ud)
{
	struct chatd_message_event *ev = event;
	(void)id, (void)ud;
	char *three = strndup(ev->text, 3);
	if (!three)
		return CHATD_OK;
	api->message_set_text(ev, three);
	free(three);
	return CHATD_OK;
}

CHATD_PLUGIN_DEFINE_VERSION();

int chatd_plugin_init(chatd_plugin *self, const struct chatd_api *a, const struct chatd_option *opts, int nopts,
		      void **userdata)
{
	(void)opts, (void)nopts, (void)userdata;
	api = a;
	return a->hook_register(self, CHATD_EV_MESSAGE, cut, NULL, CHATD_PRIO_DEFAULT);
}
"""


class SdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="chatd-sdk-")
        dest = os.path.join(cls.tmp, "root")
        make = os.environ.get("MAKE", "make")
        subprocess.run([make, "-s", "-C", TOP_BUILDDIR, "install-chatdincludeHEADERS", "install-pkgconfigDATA",
                        "DESTDIR=" + dest], check=True, env={k: v for k, v in os.environ.items()
                                                              if not k.startswith("MAKE")})
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs if f == "chatd-plugin.pc"]
        assert len(pcs) == 1, pcs
        cls.env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)
        cls.dest = dest
        # the example is copied away from the source tree: only the installed SDK can be found
        cls.src = os.path.join(cls.tmp, "hello")
        shutil.copytree(os.path.join(TOP_SRCDIR, "examples", "hello"), cls.src)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def build(self):
        cflags = subprocess.run(["pkg-config", "--cflags", "chatd-plugin"], env=self.env, check=True,
                                capture_output=True, text=True).stdout.split()
        self.assertTrue(any(f.startswith("-I" + self.dest) for f in cflags), cflags)
        out = os.path.join(self.src, "hello.so")
        subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Wmissing-prototypes", "-Werror", "-shared", "-fPIC"] + cflags +
                       ["hello.c", "-o", out], cwd=self.src, env=self.env, check=True)
        return out

    def documented_command(self):
        """The one-line build command of docs/plugins.md (the line under
        "Build against the installed SDK" that starts with `cc -std=c11`)."""
        with open(os.path.join(TOP_SRCDIR, "docs", "plugins.md")) as f:
            doc = f.read()
        section = doc.split("## Build against the installed SDK", 1)[1]
        m = re.search(r"^(cc -std=c11 .*hello\.c -o hello\.so)$", section, re.M)
        self.assertIsNotNone(m, "docs/plugins.md shows no cc -std=c11 command")
        return m.group(1)

    def test_documented_command_builds_a_correct_plugin(self):
        """Exactly the documented command, on a plugin that uses strndup (POSIX,
        hidden by -std=c11 alone: an implicit declaration truncates the pointer it
        returns): it must build without a single warning, and work."""
        src = os.path.join(self.tmp, "posix")
        os.makedirs(src, exist_ok=True)
        with open(os.path.join(src, "hello.c"), "w") as f:
            f.write(POSIX_PLUGIN)
        r = subprocess.run(["sh", "-c", self.documented_command()], cwd=src, env=self.env, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "", "the documented build warns")
        srv = ChatdServer({"plugin posix": {"path": os.path.join(src, "hello.so")}})
        srv.start()
        try:
            ws = srv.connect("lobby", "Ann")
            ws.send_json({"type": "message", "text": "abcdef"})
            self.assertEqual(ws.expect(type="message")["text"], "abc")
            ws.close()
        finally:
            srv.stop()

    def test_installed_header_only(self):
        headers = [os.path.relpath(os.path.join(d, f), self.dest) for d, _, fs in os.walk(self.dest) for f in fs
                   if f.endswith(".h")]
        self.assertEqual([os.path.basename(h) for h in headers], ["plugin.h"], headers)

    def test_out_of_tree_plugin_loads_and_runs(self):
        so = self.build()
        srv = ChatdServer({"plugin hello": {"path": so, "greeting": "Welcome"}})
        srv.start()
        try:
            ws = srv.connect("lobby", "Ann")
            ws.expect(type="welcome")
            hello = ws.expect(type="system", event="hello")
            self.assertEqual(hello["message"], "Welcome, Ann!")
            ws.send_json({"type": "hello"})
            self.assertEqual(ws.expect(type="hello")["greeted"], 1)
            ws.close()
        finally:
            srv.stop()

    def test_bad_option_stops_start_up(self):
        so = self.build()
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[plugin hello]\npath = %s\ncolour = red\n" % so)
        chatd = os.environ.get("CHATD") or os.path.join(TOP_BUILDDIR, "chatd")
        r = subprocess.run([chatd, "-t", "-c", conf], capture_output=True, text=True)
        self.assertEqual(r.returncode, 4, r)
        self.assertIn("%s:3: plugin hello: option 'colour': unknown option" % conf, r.stderr)


if __name__ == "__main__":
    main()
