#!/usr/bin/python3
"""Refused WebSocket handshakes as Node's `ws` client sees them (the same
refusals as test_refusals.py: 400, 404, 403, 429, 503).

Without a handler, `ws` reports only "Unexpected server response: STATUS";
with an 'unexpected-response' handler it reads the answer: HTTP/1.1, the
standard phrase, text/plain and the reason as the body. tests/clients/ holds
the package.json and lockfile (ws from npm), installed with `npm ci` into the
build tree on first use, and refusal.mjs. Skips (77) when node or npm is
missing.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from chatdtest import ChatdTestCase, HOST, TOP_BUILDDIR, TOP_SRCDIR  # noqa: E402
from test_refusals import CAP_CASE, CASES, CONFIG, STOPPING_CASE, STOPPING_CONFIG, begin_stuck_shutdown  # noqa: E402
from wsclient import WSClient  # noqa: E402

CLIENT_FILES = ("package.json", "package-lock.json", "refusal.mjs")


def client_dir():
    """tests/clients with `ws` installed (npm ci), in the build tree: the source
    tree may be read-only (make distcheck)."""
    src = os.path.join(TOP_SRCDIR, "tests", "clients")
    dst = os.path.join(TOP_BUILDDIR, "tests", "clients")
    if os.path.realpath(src) != os.path.realpath(dst):
        os.makedirs(dst, exist_ok=True)
        for f in CLIENT_FILES:
            shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    with open(os.path.join(dst, "package-lock.json")) as f:
        want = json.load(f)["packages"]["node_modules/ws"]["version"]
    try:
        with open(os.path.join(dst, "node_modules", "ws", "package.json")) as f:
            have = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        have = None
    if have != want:
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=dst, check=True,
                       stdin=subprocess.DEVNULL, timeout=300)
    return dst


def node_refusals(cases, port, before=None):
    """Run refusal.mjs on cases [(name, path, origin, ...)]; returns its results.
    before(), when given, runs once node is loaded, just before the handshakes."""
    spec = [{"url": "ws://%s:%d%s" % (HOST, port, c[1]), "origin": c[2]} for c in cases]
    proc = subprocess.Popen(["node", os.path.join(CLIENTS, "refusal.mjs"), json.dumps(spec), "--on-stdin"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = proc.stdout.readline().strip()
        if ready != "ready":
            raise AssertionError("refusal.mjs did not start: %r %s" % (ready, proc.stderr.read()))
        if before:
            before()
        out, err = proc.communicate("go\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode:
        raise AssertionError("refusal.mjs exited %d\n%s" % (proc.returncode, err))
    return json.loads(out)


class NodeAsserts:
    def assert_node_sees(self, case, result):
        name, _, _, status, phrase, reason = case
        self.assertEqual(result["plain"], {"error": "Unexpected server response: %d" % status}, name)
        got = result["handled"]
        self.assertSubset({"status": status, "statusMessage": phrase, "httpVersion": "1.1",
                           "body": reason + "\n"}, got, "%s: %r" % (name, got))
        self.assertEqual(got["headers"].get("content-type"), "text/plain; charset=utf-8", name)
        self.assertEqual(got["headers"].get("connection"), "close", name)
        self.assertEqual(int(got["headers"].get("content-length")), len((reason + "\n").encode()), name)


class NodeRefusalTest(ChatdTestCase, NodeAsserts):
    config = CONFIG

    def test_refusals_read_by_node_ws(self):
        for case, result in zip(CASES, node_refusals(CASES, self.port)):
            with self.subTest(case[0]):
                self.assert_node_sees(case, result)

    def test_per_address_cap_429(self):
        held = WSClient(self.port, "/ws/lobby")
        self.addCleanup(held.close)
        self.assertEqual(held.handshake().status, 101)
        self.assert_node_sees(CAP_CASE, node_refusals([CAP_CASE], self.port)[0])


class NodeShutdownRefusalTest(ChatdTestCase, NodeAsserts):
    config = STOPPING_CONFIG

    def test_shutting_down_503(self):
        # node starts first: the 503 window (at most 1.5 s) is too short for its start-up on a busy machine
        result = node_refusals([STOPPING_CASE], self.port, before=lambda: begin_stuck_shutdown(self))
        self.assert_node_sees(STOPPING_CASE, result[0])
        self.assertEqual(self.srv.wait(5), 0)


if __name__ == "__main__":
    missing = [tool for tool in ("node", "npm") if not shutil.which(tool)]
    if missing:
        print("SKIP: %s not found: the Node ws client tests need Node.js and npm" % " and ".join(missing))
        sys.exit(77)
    CLIENTS = client_dir()
    unittest.main(verbosity=2)
