"""Start and stop chatd for the integration tests.

    srv = ChatdServer({"server": {"max_message_bytes": 100}, "plugin me": {}})
    srv.start()            # free port, temp data dir, waits for /healthz
    ...
    srv.stop()             # SIGTERM, asserts exit 0 within 3 s

ChatdTestCase runs one server per test class (class attribute `config`); a
test that needs a fresh server makes its own with `self.start_server(...)`
(stopped by a cleanup). A server's stderr is captured to a file and printed
when a test of its class fails or when it will not start or stop cleanly.

Environment (set by `make check`, see tests/local.mk): CHATD, TOP_SRCDIR,
TOP_BUILDDIR; the trees default to the one this file is in, so a file also runs
standalone after an in-tree build:
    /usr/bin/python3 tests/integration/test_protocol.py
"""

import atexit
import itertools
import resource
import json
import os
import shutil
import signal
import random
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsclient  # noqa: E402

TOP_SRCDIR = os.environ.get("TOP_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR") or TOP_SRCDIR
CHATD = os.environ.get("CHATD") or os.path.join(TOP_BUILDDIR, "chatd")
WEB_ROOT = os.path.join(TOP_SRCDIR, "web")
PLUGIN_DIR = os.path.join(TOP_BUILDDIR, "plugins")
HOST = "127.0.0.1"

# chatd under valgrind (CHATD is tests/valgrind-chatd, as in .ci/run's valgrind
# stage, or CHATD_VALGRIND=1 for another wrapper) is 20-50 times slower: it
# takes seconds to start, its leak check seconds to exit, and every answer
# comes later. The waits for a server to become healthy or to exit and the
# default receive timeout (wsclient) are multiplied by TIME_SCALE: they only
# last that long when something is wrong. A test whose timing is its subject
# (a grace period) scales its periods by it too.
VALGRIND = bool(os.environ.get("CHATD_VALGRIND")) or os.path.basename(CHATD).startswith("valgrind")
TIME_SCALE = 10 if VALGRIND else 1
wsclient.DEFAULT_TIMEOUT *= TIME_SCALE

_live = set()  # servers started and not yet stopped, killed at exit no matter what


@atexit.register
def _kill_leftovers():
    for srv in list(_live):
        srv.kill()
        srv.cleanup()


def _exit_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # so the atexit hook runs (make's timeout, Ctrl-C in a pipeline)


if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _die_with_parent():
    """In the child: get SIGKILL if the test process dies (even by SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port(host=HOST):
    """A port nobody listens on right now, below the kernel's ephemeral range
    (32768-60999 here; read from /proc): a port the kernel hands out for port 0 is
    also handed to outgoing connections (the tests' clients, Redis links), which can
    take it between the check and the server's bind. Tries random ports in
    20000..(ephemeral start - 1), at most 32767, and returns the first that binds
    on `host`."""
    lo, hi = 20000, 32767
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            hi = min(hi, int(f.read().split()[0]) - 1)
    except (OSError, ValueError, IndexError):
        pass
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randint(lo, hi)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in %d-%d on %s" % (lo, hi, host))


def listening_socket(host=HOST, backlog=16):
    """A TCP socket bound to a free port below the ephemeral range and listening
    (new: the caller closes it). For tests that hold a port or relay one."""
    for _ in range(20):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, free_port(host)))
            s.listen(backlog)
            return s
        except OSError:
            s.close()
    raise RuntimeError("could not listen on a free port on %s" % host)


_uniq_counter = itertools.count(1)


def uniq(prefix="r"):
    """A room or name nobody else in this test process uses (letters only, so a
    digit suffix is always a variant and never part of the base)."""
    n = next(_uniq_counter)
    s = ""
    while True:
        s = string.ascii_lowercase[n % 26] + s
        n //= 26
        if not n:
            break
    return prefix + s


def session_key(tag):
    """A valid session key (16-128 of A-Z a-z 0-9 _ -) made from tag."""
    return ("key-%s-" % tag + "x" * 16)[:40]


def write_config(path, config):
    """Write an INI file from {"server": {...}, "plugin me": {...}} (order kept).
    A value of None writes the line without a value; a str section body is written raw."""
    lines = []
    for section, body in config.items():
        lines.append("[%s]" % section)
        if isinstance(body, str):
            lines.append(body)
        else:
            for k, v in body.items():
                lines.append("%s = %s" % (k, v) if v is not None else k)
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def http_request(port, path, method="GET", headers=None, host=HOST, timeout=None, source=None, body=None):
    """A raw HTTP/1.1 request (the path goes out exactly as given, no
    normalisation; body, bytes, goes with its Content-Length). Returns (status,
    headers with lower-case names, body bytes). timeout: 5 s (times TIME_SCALE)."""
    if timeout is None:
        timeout = 5.0 * TIME_SCALE
    assert wsclient.ipaddr_is_loopback(host)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        if source:
            s.bind((source, 0))
        s.connect((host, port))
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (host, port), "Connection: close"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        data = b""
        deadline = time.monotonic() + timeout
        head = None
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
            if head is None and b"\r\n\r\n" in data:
                head, _, _ = data.partition(b"\r\n\r\n")
            if head is not None:
                hdrs = _parse_headers(head)
                body = data[len(head) + 4:]
                if "content-length" in hdrs and len(body) >= int(hdrs["content-length"]):
                    break
                if hdrs.get("transfer-encoding", "").lower() == "chunked" and body.endswith(b"0\r\n\r\n"):
                    break
                if method == "HEAD":
                    break
    finally:
        s.close()
    if b"\r\n\r\n" not in data:
        raise AssertionError("no HTTP answer to %s %s; got %r" % (method, path, data[:300]))
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    hdrs = _parse_headers(head)
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    elif "content-length" in hdrs:
        body = body[:int(hdrs["content-length"])]
    return int(status_line.split()[1]), hdrs, body


def _parse_headers(head):
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return hdrs


def _unchunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


class ChatdServer:
    """One chatd process on a free port with its own temp directory."""

    def __init__(self, config=None, web_root=None, plugin_dir=None, log_level="info", extra_args=(),
                 name="chatd", nofile=None):
        self.nofile = nofile  # the child's RLIMIT_NOFILE (soft and hard), None to inherit
        self.fixed_port = None  # set before start(): listen there (reuse_port tests)
        self.config = {"server": {}}
        for section, body in (config or {}).items():
            self.config[section] = dict(body) if isinstance(body, dict) else body
        self.web_root = web_root or WEB_ROOT
        self.plugin_dir = plugin_dir or PLUGIN_DIR
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.name = name
        self.proc = None
        self.port = None
        self.tmp = None
        self.stderr_path = None
        self.returncode = None

    # -- lifecycle ----------------------------------------------------------

    # /healthz is polled this often while starting; ready_s is the time from
    # start() to the first healthy answer (retries on a taken port included).
    poll_s = 0.02
    ready_s = None

    def start(self, attempts=5):
        t0 = time.monotonic()
        self.tmp = tempfile.mkdtemp(prefix="chatd-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.config_path = os.path.join(self.tmp, "chatd.conf")
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        last = ""
        for _ in range(attempts):
            self.port = self.fixed_port or free_port()
            server = self.config.setdefault("server", {})
            if isinstance(server, dict):
                server.setdefault("bind", HOST)
                server["port"] = self.port
            write_config(self.config_path, self.config)
            args = [CHATD, "-c", self.config_path, "-p", str(self.port), "-w", self.web_root, "-D", self.data_dir,
                    "-P", self.plugin_dir, "-l", self.log_level] + self.extra_args
            with open(self.stderr_path, "ab") as err:
                # PDEATHSIG fires when the forking *thread* ends: only from the main thread
                main = threading.current_thread() is threading.main_thread()
                nofile = self.nofile

                def preexec():
                    if main:
                        _die_with_parent()
                    if nofile:
                        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                             cwd=self.tmp, preexec_fn=preexec if (main or nofile) else None)
            _live.add(self)
            if self._wait_healthy(5.0 * TIME_SCALE):
                self.ready_s = time.monotonic() - t0
                return self
            rc = self.proc.poll()
            last = self.stderr()
            self.kill()
            if rc == 5:  # cannot listen: somebody took the port meanwhile; try another
                continue
            break
        raise AssertionError("chatd did not become healthy (exit %s); args %s\n--- config ---\n%s\n--- stderr ---\n%s"
                             % (self.returncode, args, open(self.config_path).read(), last))

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                status, _, body = http_request(self.port, "/healthz", timeout=1.0 * TIME_SCALE)
                if status == 200 and json.loads(body).get("status") == "ok":
                    return True
            except (OSError, AssertionError, ValueError):
                pass
            time.sleep(self.poll_s)
        return False

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Wait for exit; returns the exit code, or None if still running."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        _live.discard(self)
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=3.0, check=True):
        """Signal, wait up to timeout (times TIME_SCALE), and assert a clean exit (0)."""
        if self.proc is None:
            return None
        timeout *= TIME_SCALE
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        t0 = time.monotonic()
        rc = self.wait(timeout)
        took = time.monotonic() - t0
        if rc is None:
            self.kill()
            if check:
                raise AssertionError("chatd did not exit within %.1fs of signal %d\n--- stderr ---\n%s"
                                     % (timeout, sig, self.stderr()))
            return None
        self.cleanup()
        if check and rc != 0:
            raise AssertionError("chatd exited %s (want 0) %.2fs after signal %d\n--- stderr ---\n%s"
                                 % (rc, took, sig, self.stderr()))
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc is not None:
            self.returncode = self.proc.returncode
        _live.discard(self)

    def cleanup(self):
        """Remove the temp directory (only once the process is gone)."""
        if self.proc is not None and self.proc.poll() is None:
            return
        if self.tmp and os.path.isdir(self.tmp):
            self._stderr_cache = self.stderr()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- inspection ---------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return getattr(self, "_stderr_cache", "")

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def healthz(self):
        status, _, body = http_request(self.port, "/healthz")
        return status, json.loads(body)

    def wait_stderr(self, words, timeout=10.0):
        """True once words appear in the server's output, False after timeout s
        (times TIME_SCALE)."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        while time.monotonic() < deadline:
            if words in self.stderr():
                return True
            time.sleep(0.05)
        return False

    def get(self, path, **kw):
        return http_request(self.port, path, **kw)

    def connect(self, room="general", name=None, **kw):
        return wsclient.connect(self.port, room, name, **kw)


class ChatdTestCase(unittest.TestCase):
    """One chatd per test class, configured by the class attribute `config`.
    self.connect() opens a chat socket closed after the test."""

    config = {}
    server_kwargs = {}
    srv = None
    _class_failed = False

    @classmethod
    def setUpClass(cls):
        cls._class_failed = False
        cls.srv = ChatdServer(cls.config, **cls.server_kwargs)
        cls.addClassCleanup(cls.srv.cleanup)
        cls.addClassCleanup(cls.srv.kill)
        cls.srv.start()
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        srv = cls.srv
        try:
            if srv.alive():
                srv.stop()  # asserts exit 0 within 3 s
        finally:
            if cls._class_failed:
                print("\n--- chatd stderr (%s) ---\n%s--- end ---" % (cls.__name__, srv.stderr()[-20000:]),
                      file=sys.stderr)
            srv.kill()
            srv.cleanup()

    def run(self, result=None):
        self._own_servers = []
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self)._class_failed = True
            for srv in self._own_servers:  # servers of this test only (start_server)
                print("\n--- chatd stderr (%s, port %s) ---\n%s--- end ---" % (self.id(), srv.port, srv.stderr()[-20000:]),
                      file=sys.stderr)
        return out

    def connect(self, room="general", name=None, srv=None, **kw):
        ws = (srv or self.srv).connect(room, name, **kw)
        self.addCleanup(ws.close)
        return ws

    def join(self, room="general", name=None, srv=None, **kw):
        """Connect and consume the welcome and the own join event; returns (ws, welcome)."""
        ws = self.connect(room, name, srv=srv, **kw)
        welcome = ws.recv_json()
        self.assertEqual(welcome.get("type"), "welcome", welcome)
        ws.expect(type="system", event="join", username=welcome["username"])
        return ws, welcome

    def start_server(self, config=None, **kw):
        """A fresh server for this test only (stopped, exit 0 asserted, by a cleanup)."""
        srv = ChatdServer(config, **kw)
        self._own_servers.append(srv)
        self.addCleanup(srv.cleanup)
        self.addCleanup(srv.kill)
        srv.start()
        self.addCleanup(self._stop_checked, srv)
        return srv

    def _stop_checked(self, srv):
        if srv.alive():
            try:
                srv.stop()
            except AssertionError:
                type(self)._class_failed = True
                raise

    def assertSubset(self, small, big, msg=None):
        missing = {k: v for k, v in small.items() if big.get(k) != v}
        if missing:
            self.fail(msg or "fields %r not in %r" % (missing, big))


def main():
    unittest.main(verbosity=2)
