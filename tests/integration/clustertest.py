"""Redis and several chatd nodes for the cluster tests (standard library only).

    redis = RedisServer().start()          # its own redis-server: free port, AOF on, temp dir
    nodes = [ClusterNode(redis).start() for _ in range(3)]
    ...
    redis.pause(); redis.resume()          # SIGSTOP / SIGCONT, by PID
    redis.kill(); redis.restart()          # kill -9, then again on the same port and data

Everything is started by the test and stopped by PID (never by name: other
people's redis-server and chatd run on this machine too). A test module
calls skip_unless_cluster() first: it exits 77 (skipped) with the reason
when redis-server or the cluster plugin is missing.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatdtest  # noqa: E402
from chatdtest import HOST, PLUGIN_DIR, free_port  # noqa: E402

REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
CLUSTER_SO = os.path.join(PLUGIN_DIR, "cluster", "cluster.so")
if not os.path.exists(CLUSTER_SO):
    CLUSTER_SO = os.path.join(PLUGIN_DIR, "cluster.so")

_live = set()


def skip_unless_cluster():
    """Exit 77 (automake's "skipped") when the cluster cannot be tested here."""
    why = None
    if not os.access(REDIS_SERVER, os.X_OK):
        why = "redis-server not found (apt-get install redis-server)"
    elif not os.path.exists(CLUSTER_SO):
        why = "the cluster plugin was not built (configure found no hiredis: apt-get install libhiredis-dev)"
    if why:
        print("SKIP: " + why)
        sys.exit(77)


class RedisError(Exception):
    pass


class Resp:
    """A tiny blocking RESP2 client for the tests' own look into Redis."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise ValueError("bad RESP line %r" % line)

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        r = self._reply()
        if isinstance(r, RedisError):
            raise r
        return r


def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass


class RedisServer:
    """One redis-server of the test's own, on a free port, data in a temp dir."""

    def __init__(self, appendonly=True, extra=None):
        self.appendonly = appendonly
        self.extra = dict(extra or {})
        self.proc = None
        self.port = None
        self.tmp = None

    def _args(self):
        args = [REDIS_SERVER, "--port", str(self.port), "--bind", HOST, "--dir", self.tmp,
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec",
                "--save", "", "--daemonize", "no", "--logfile", os.path.join(self.tmp, "redis.log"),
                "--protected-mode", "no"]
        for k, v in self.extra.items():
            args += ["--" + k, str(v)]
        return args

    def start(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix="chatd-redis-")
        for _ in range(5):
            if self.port is None:
                self.port = free_port()
            self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            _live.add(self)
            if self._wait_ready(10.0):
                return self
            self.kill()
            self.port = None  # the port was taken meanwhile: another one
        raise AssertionError("redis-server did not start:\n" + self.log())

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = Resp(self.port, timeout=1.0)
                try:
                    if r.call("PING") == "PONG":
                        return True
                finally:
                    r.close()
            except (OSError, ConnectionError, RedisError):
                pass
            time.sleep(0.05)
        return False

    def restart(self):
        """Start again on the same port and data (after kill)."""
        assert not self.alive()
        for _ in range(50):
            self.proc = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            _live.add(self)
            if self._wait_ready(10.0):
                return self
            time.sleep(0.1)
        raise AssertionError("redis-server did not restart on port %d:\n%s" % (self.port, self.log()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait(10)
        _live.discard(self)

    def stop(self):
        if self.alive():
            try:
                os.kill(self.proc.pid, signal.SIGCONT)
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        _live.discard(self)

    def cleanup(self):
        self.kill()
        if self.tmp and os.path.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def log(self):
        try:
            with open(os.path.join(self.tmp, "redis.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-5000:]
        except (OSError, TypeError):
            return ""

    def client(self):
        return Resp(self.port)

    def call(self, *args):
        r = Resp(self.port)
        try:
            return r.call(*args)
        finally:
            r.close()


def cluster_config(redis_port, prefix="chatd:", **opts):
    """A chatd config with the cluster plugin on redis_port (opts: more plugin options)."""
    body = {"redis": "%s:%d" % (HOST, redis_port), "prefix": prefix}
    body.update({k: v for k, v in opts.items()})
    return {"plugin cluster": body}


class ClusterNode(chatdtest.ChatdServer):
    """A chatd node with the cluster plugin (and any other plugin sections)."""

    def __init__(self, redis, name="node", cluster=None, plugins_before=None, plugins_after=None, server=None,
                 **kw):
        config = {"server": dict(server or {})}
        for section, body in (plugins_before or {}).items():
            config[section] = body
        opts = {"redis": "%s:%d" % (HOST, redis.port), "node_name": name}
        opts.update(cluster or {})
        config["plugin cluster"] = opts
        for section, body in (plugins_after or {}).items():
            config[section] = body
        super().__init__(config, name=name, **kw)
        self.redis = redis

    def cpu_seconds(self):
        """User + system CPU time the process used so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def pause(self):
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def wait_log(self, text, timeout=5.0, after=0):
        """Wait until stderr (from byte offset `after`) contains text; returns the offset past it."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.stderr()
            i = log.find(text, after)
            if i >= 0:
                return i + len(text)
            if time.monotonic() > deadline:
                raise AssertionError("%s: %r not logged within %.1f s; log:\n%s" % (self.name, text, timeout,
                                                                                   log[after:][-4000:]))
            time.sleep(0.05)


class FreezingProxy:
    """A TCP proxy in front of Redis for the tests: every connection is
    forwarded both ways until freeze() stops forwarding on the connections
    whose first command matched (the sockets stay open: a silent death)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lsock = chatdtest.listening_socket(HOST, 64)
        self.port = self.lsock.getsockname()[1]
        self.pairs = []  # [client, upstream, first bytes, frozen]
        self.freeze_match = None
        self.subscribes = 0
        self.lock = threading.Lock()
        self.stop_flag = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def freeze(self, match=b"SUBSCRIBE"):
        with self.lock:
            self.freeze_match = match
            for p in self.pairs:
                if match in p[2].upper():
                    p[3] = True

    def thaw(self):
        with self.lock:
            self.freeze_match = None

    def close(self):
        self.stop_flag = True
        self.thread.join(5)
        for p in self.pairs:
            p[0].close()
            p[1].close()
        self.lsock.close()

    def _run(self):
        while not self.stop_flag:
            with self.lock:
                socks = [self.lsock] + [s for p in self.pairs if not p[3] for s in p[:2]]
            r, _, _ = select.select(socks, [], [], 0.05)
            for s in r:
                if s is self.lsock:
                    c, _ = self.lsock.accept()
                    u = socket.create_connection((HOST, self.target_port))
                    with self.lock:
                        self.pairs.append([c, u, b"", False])
                    continue
                with self.lock:
                    pair = next((p for p in self.pairs if s in p[:2]), None)
                if pair is None or pair[3]:
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    with self.lock:
                        self.pairs.remove(pair)
                    pair[0].close()
                    pair[1].close()
                    continue
                if s is pair[0]:
                    if len(pair[2]) < 64:
                        pair[2] += data[:64]
                    if b"SUBSCRIBE" in data.upper():
                        self.subscribes += 1
                    with self.lock:
                        if self.freeze_match and self.freeze_match in pair[2].upper():
                            pair[3] = True
                            continue
                    pair[1].sendall(data)
                else:
                    pair[0].sendall(data)


def cleanup_all():
    for r in list(_live):
        r.cleanup()


import atexit  # noqa: E402
atexit.register(cleanup_all)
