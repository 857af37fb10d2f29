#!/usr/bin/python3
"""The tutorial's own page served by chatd from another web root (web_root / -w):
byte for byte, as HTML, with no Content-Security-Policy that would block its
inline script and style (docs/protocol.md).

The page is not part of this repository: SEED_CHAT_HTML names it (.ci/run sets
it when the tutorial sits next to the clone). Without it this file is skipped
(exit 77) and says why."""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase  # noqa: E402

SEED_HTML = os.environ.get("SEED_CHAT_HTML")
if not SEED_HTML:
    print("SKIP: SEED_CHAT_HTML is not set (the tutorial's chat.html, from outside this repository)")
    sys.exit(77)


class SeedPageTest(ChatdTestCase):

    @classmethod
    def setUpClass(cls):
        cls.web = tempfile.mkdtemp(prefix="chatd-seedweb-")
        # set but missing is a broken setup: this fails rather than skips
        shutil.copy(SEED_HTML, os.path.join(cls.web, "index.html"))
        cls.server_kwargs = {"web_root": cls.web}
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.web, ignore_errors=True)

    def test_tutorial_page_served_without_csp(self):
        status, headers, body = self.srv.get("/")
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("content-type", "").startswith("text/html"), headers)
        with open(SEED_HTML, "rb") as f:
            self.assertEqual(body, f.read())
        self.assertNotIn("content-security-policy", headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
