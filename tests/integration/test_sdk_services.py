"""Integration tests: what plugins serve and change in a running chatd, over
real sockets (tests/plugins/sdkapi.so, see its header comment): HTTP endpoints
under /plugins/NAME/ (GET, HEAD, POST with a body, headers, 404, 413, 500),
a web hook posting a notice to a room, and SIGHUP re-reading the config
(reloadable keys, plugin options taken or refused, keys that wait for a
restart, a broken file)."""

import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402

SDKAPI = os.path.join(chatdtest.TOP_BUILDDIR, "tests", "plugins", "sdkapi.so")



class PluginHttpTest(chatdtest.ChatdTestCase):
    config = {"plugin sdkapi": {"path": SDKAPI}}

    def test_get_reads_the_request(self):
        status, hdrs, body = self.srv.get("/plugins/sdkapi/info?q=a%20b&z=1",
                                          headers={"X-Test": "t1", "Cookie": "c=cookie; d=2"})
        self.assertEqual(status, 200, body)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(hdrs["cache-control"], "no-store")
        self.assertEqual(hdrs["x-content-type-options"], "nosniff")
        info = json.loads(body)
        self.assertEqual(info["method"], "GET")
        self.assertEqual(info["path"], "/info")
        self.assertEqual(info["full"], "/plugins/sdkapi/info")
        self.assertEqual(info["q"], "a b")
        self.assertEqual(info["hdr"], "t1")
        self.assertEqual(info["cookie"], "cookie")
        self.assertEqual(info["address"], "127.0.0.1")

    def test_head_has_headers_and_no_body(self):
        status, hdrs, body = self.srv.get("/plugins/sdkapi/info", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")

    def test_post_body_comes_back(self):
        payload = json.dumps({"event": "push", "n": list(range(50))}).encode()
        status, hdrs, body = self.srv.get("/plugins/sdkapi/echo", method="POST", body=payload,
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(status, 201)
        self.assertEqual(body, payload)
        self.assertEqual(hdrs["content-type"], "application/json")
        self.assertEqual(hdrs["x-echo"], "yes")
        status, _, body = self.srv.get("/plugins/sdkapi/echo", method="POST", body=b"",
                                       headers={"Content-Type": "text/plain"})
        self.assertEqual((status, body), (201, b""))
        self.assertNotIn('name="header_misallowed"', self.srv.get("/metrics")[2].decode())

    def test_big_body_is_refused(self):
        status, _, body = self.srv.get("/plugins/sdkapi/echo", method="POST", body=b"x" * (1024 * 1024 + 1))
        self.assertEqual(status, 413, body)

    def test_unknown_plugin_page_and_silent_handler(self):
        self.assertEqual(self.srv.get("/plugins/nobody/x")[0], 404)
        self.assertEqual(self.srv.get("/plugins/sdkapi/nothing")[0], 404)
        status, _, body = self.srv.get("/plugins/sdkapi/silent")
        self.assertEqual(status, 500)
        self.assertIn(b"did not answer", body)
        # the core's own endpoints are as they were
        self.assertEqual(self.srv.get("/healthz")[0], 200)
        self.assertEqual(self.srv.get("/metrics")[0], 200)
        self.assertEqual(self.srv.get("/index.html")[0], 200)
        self.assertEqual(self.srv.get("/index.html", method="POST", body=b"x")[0], 405)

    def test_web_hook_posts_a_notice_with_an_id(self):
        ws = self.srv.connect("hooked", "Ann")
        self.addCleanup(ws.close)
        ws.expect(type="welcome")
        status, _, body = self.srv.get("/plugins/sdkapi/notice?room=HOOKED&text=deploy%20done")
        self.assertEqual(status, 200, body)
        m = ws.expect(type="message", notice=True)
        self.assertEqual((m["id"], m["username"], m["text"]), (int(body), "", "deploy done"))
        self.assertEqual(self.srv.get("/plugins/sdkapi/notice?room=nowhere&text=x")[0], 404)


class ReloadTest(chatdtest.ChatdTestCase):
    config = {"plugin sdkapi": {"path": SDKAPI, "motd": "hello"}}

    def reload(self, server, motd, expect):
        self.srv.config = {"server": dict(server, bind=chatdtest.HOST, port=self.srv.port),
                           "plugin sdkapi": {"path": SDKAPI, "motd": motd}}
        chatdtest.write_config(self.srv.config_path, self.srv.config)
        self.srv.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_stderr(expect), self.srv.stderr()[-3000:])

    def motd(self):
        ws = self.srv.connect("reload", "Rae")
        try:
            ws.send_json({"type": "motd"})
            return ws.expect(type="motd")["motd"]
        finally:
            ws.close()

    def limit(self):
        ws = self.srv.connect("reload", "Lim")
        try:
            return ws.expect(type="welcome")["limits"]["max_message_bytes"]
        finally:
            ws.close()

    def test_sighup(self):
        self.assertEqual(self.motd(), "hello")
        # reloadable key and plugin options
        self.reload({"max_message_bytes": 300}, "bonjour", "SIGHUP: plugin sdkapi took its new options")
        self.assertEqual(self.motd(), "bonjour")
        self.assertEqual(self.limit(), 300)
        # a plugin refuses: old options kept, the reason logged
        self.reload({"max_message_bytes": 300}, "bad", "refused its new options")
        self.assertIn("option 'motd': not a good motd", self.srv.stderr())
        self.assertEqual(self.motd(), "bonjour")
        # a key that waits for a restart
        self.reload({"max_message_bytes": 300, "handshake_timeout": 7}, "bonjour",
                    "SIGHUP: [server] handshake_timeout changed: it takes effect when chatd restarts")
        # a broken file: nothing changes, chatd keeps running
        with open(self.srv.config_path, "w") as f:
            f.write("[server]\nmax_message_bytes = lots\n")
        self.srv.send_signal(signal.SIGHUP)
        self.assertTrue(self.srv.wait_stderr("the running config is kept"), self.srv.stderr()[-3000:])
        self.assertEqual(self.limit(), 300)
        self.assertEqual(self.srv.healthz()[1]["status"], "ok")


if __name__ == "__main__":
    chatdtest.main()
