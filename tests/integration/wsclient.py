"""A small synchronous WebSocket client for chatd's integration tests.

Standard library only. It speaks RFC 6455 over a raw socket and can also
misbehave on purpose (raw frames with any opcode, fin and rsv bits, unmasked
frames, fragments, lying lengths) for the abuse tests.

    ws = connect(port, "general", name="Alice")   # asserts 101
    welcome = ws.recv_json()                        # the next frame, whatever it is
    ws.send_json({"type": "message", "text": "hi"})
    msg = ws.expect(type="message", text="hi")      # skips frames until one matches
    code, reason = ws.expect_close()

Every receive takes a timeout and fails (AssertionError subclasses, so a test
reports a failure rather than an error) with everything seen so far.
"""

import base64
import hashlib
import json
import os
import select
import socket
import struct
import time
import urllib.parse

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

OPNAMES = {OP_CONT: "cont", OP_TEXT: "text", OP_BINARY: "binary", OP_CLOSE: "close", OP_PING: "ping",
           OP_PONG: "pong"}

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Seconds a receive waits by default (None below means this, read at call
# time: chatdtest.py scales it when chatd runs under valgrind).
DEFAULT_TIMEOUT = 5.0


class WSError(AssertionError):
    """Base of the client's failures (an AssertionError: a test fails, not errors)."""


class WSTimeout(WSError):
    """Nothing (or not enough) arrived before the deadline."""


class WSClosed(WSError):
    """The TCP connection ended (EOF or reset) without a close frame."""


class HandshakeRefused(WSError):
    """The server answered the upgrade with something other than 101."""

    def __init__(self, response):
        self.response = response
        super().__init__("handshake refused: %s" % response.status_line)


class HTTPResponse:
    """The server's answer to the upgrade request."""

    def __init__(self, status_line, headers, body=b""):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        self.headers = headers  # lower-case name -> value
        self.body = body

    def __repr__(self):
        return "HTTPResponse(%r, %r, %r)" % (self.status_line, self.headers, self.body[:200])


def mask_bytes(key, payload):
    """XOR payload with the 4-byte key (fast enough for megabytes)."""
    n = len(payload)
    if not n:
        return b""
    reps = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(reps, "big")).to_bytes(n, "big")


def build_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, length_bytes=None,
                mask_key=None):
    """Encode one frame. `length` overrides the declared payload length (a lie);
    `length_bytes` forces the length encoding (0: 7-bit, 2: 16-bit, 8: 64-bit),
    minimal or not. rsv is the three RSV bits as a number 0..7."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload) if length is None else length
    mbit = 0x80 if mask else 0
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    if length_bytes == 0:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif length_bytes == 2:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = mask_key if mask_key is not None else os.urandom(4)
        return hdr + key + mask_bytes(key, payload)
    return hdr + payload


def describe(frame):
    """A short human description of a received (opcode, payload) frame."""
    op, payload = frame
    if op == OP_TEXT:
        return payload if len(payload) < 300 else payload[:300] + "...(%d chars)" % len(payload)
    if op == OP_CLOSE:
        return "close %r" % (payload,)
    if isinstance(payload, (bytes, bytearray)) and len(payload) > 60:
        payload = bytes(payload[:60]) + b"..."
    return "%s %r" % (OPNAMES.get(op, "op%d" % op), payload)


class WSClient:
    """One WebSocket connection. Construct, then handshake() (or use connect())."""

    def __init__(self, port, path="/ws/general", host="127.0.0.1", source=None, rcvbuf=None,
                 headers=None, timeout=None, auto_close_reply=True):
        self.port = port
        self.path = path
        self.host = host
        self.source = source
        self.rcvbuf = rcvbuf
        self.extra_headers = dict(headers or {})
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.auto_close_reply = auto_close_reply
        self.sock = None
        self.buf = bytearray()
        self.eof = False
        self.open = False
        self.close_sent = False
        self.close_received = None  # (code, reason) once a close frame arrived
        self.seen = []  # every frame received, as (opcode, payload), for failure messages
        self.response = None
        self._frag_op = None
        self._frag = bytearray()

    # -- connection ---------------------------------------------------------

    def _socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if self.rcvbuf:
                # Before connect, so the advertised window stays small.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            if self.source:
                s.bind((self.source, 0))
            s.settimeout(self.timeout)
            s.connect((self.host, self.port))
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            s.close()
            raise
        return s

    def handshake(self, raise_on_refusal=False):
        """Send the upgrade; returns an HTTPResponse (status 101 when upgraded)."""
        assert ipaddr_is_loopback(self.host), "tests only connect to 127.0.0.0/8"
        self.sock = self._socket()
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % self.path, "Host: %s:%d" % (self.host, self.port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for k, v in self.extra_headers.items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                self.close_socket()
                if self.eof:
                    raise WSClosed("connection closed during the handshake; got %r" % bytes(self.buf))
                raise WSTimeout("no handshake answer within %.1fs; got %r" % (self.timeout, bytes(self.buf)))
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        text = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in text[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        resp = HTTPResponse(text[0], headers)
        self.response = resp
        if resp.status == 101:
            want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            if headers.get("sec-websocket-accept") != want:
                raise WSError("bad Sec-WebSocket-Accept in %r" % headers)
            self.open = True
            return resp
        # Not upgraded: read the body (best effort) and close.
        n = int(headers.get("content-length", "0") or 0)
        deadline = time.monotonic() + 1.0
        while len(self.buf) < n and self._fill(deadline):
            pass
        resp.body = bytes(self.buf[:n]) if n else bytes(self.buf)
        self.buf = bytearray()
        self.close_socket()
        if raise_on_refusal:
            raise HandshakeRefused(resp)
        return resp

    def close_socket(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self.open = False

    def close(self, code=1000, reason="", wait=0.0):
        """Send a close frame (if still possible), optionally wait for the echo, drop the socket."""
        if self.sock is not None and self.open and not self.close_sent and not self.eof:
            try:
                self.send_close(code, reason)
                if wait:
                    deadline = time.monotonic() + wait
                    while self.close_received is None and not self.eof:
                        self._frame(deadline)
            except (OSError, WSError):
                pass
        self.close_socket()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        return self.sock.fileno()

    # -- sending ------------------------------------------------------------

    def send_raw(self, data):
        """Write bytes as they are (anything at all)."""
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", fin=True, rsv=0, mask=True, length=None, length_bytes=None):
        self.send_raw(build_frame(opcode, payload, fin=fin, rsv=rsv, mask=mask, length=length,
                                  length_bytes=length_bytes))

    def send_text(self, text):
        self.send_frame(OP_TEXT, text.encode("utf-8") if isinstance(text, str) else text)

    def send_json(self, obj):
        self.send_text(json.dumps(obj))

    def send_binary(self, data):
        self.send_frame(OP_BINARY, data)

    def send_fragments(self, chunks, opcode=OP_TEXT):
        """One message in len(chunks) frames: first `opcode`, then continuations."""
        data = b""
        for i, chunk in enumerate(chunks):
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            data += build_frame(opcode if i == 0 else OP_CONT, chunk, fin=(i == len(chunks) - 1))
        self.send_raw(data)

    def ping(self, payload=b""):
        self.send_frame(OP_PING, payload)

    def send_close(self, code=1000, reason=""):
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode("utf-8")
        self.send_frame(OP_CLOSE, payload)
        self.close_sent = True

    # -- receiving ----------------------------------------------------------

    def _fill(self, deadline):
        """Read what is available before deadline into the buffer. False on timeout or EOF."""
        if self.eof or self.sock is None:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            return False
        try:
            data = self.sock.recv(262144)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except socket.timeout:
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def pump(self):
        """One read of whatever the socket has now (call when select() says it is
        readable); then recv_frame(0) returns the complete frames buffered. False on EOF."""
        if self.eof or self.sock is None:
            return False
        try:
            data = self.sock.recv(262144)
        except (BlockingIOError, socket.timeout):
            return True
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def buffered_frames(self):
        """Every complete frame already buffered (no reading), as recv_frame returns them."""
        out = []
        while True:
            try:
                out.append(self._frame(0))
            except WSTimeout:
                return out

    def _need(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                if self.eof or self.sock is None:
                    raise WSClosed("connection closed without a close frame (buffered %d bytes); seen: %s"
                                   % (len(self.buf), self.history()))
                raise WSTimeout("timed out waiting for a frame; seen: %s" % self.history())

    def recv_raw_frame(self, timeout=None):
        """One frame as on the wire: (fin, rsv, opcode, payload bytes)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            self._need(4, deadline)
            n = struct.unpack("!H", self.buf[2:4])[0]
            pos = 4
        elif n == 127:
            self._need(10, deadline)
            n = struct.unpack("!Q", self.buf[2:10])[0]
            pos = 10
        key = None
        if b1 & 0x80:
            self._need(pos + 4, deadline)
            key = bytes(self.buf[pos:pos + 4])
            pos += 4
        self._need(pos + n, deadline)
        payload = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        if key:
            payload = mask_bytes(key, payload)
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload

    def _frame(self, deadline):
        """The next complete message or control frame, as (opcode, payload)."""
        while True:
            fin, _rsv, op, payload = self.recv_raw_frame(max(0.0, deadline - time.monotonic()))
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                self.close_received = (code, reason)
                frame = (OP_CLOSE, (code, reason))
                self.seen.append(frame)
                if self.auto_close_reply and not self.close_sent and self.sock is not None:
                    try:
                        self.send_close(code if code not in (None, 1005, 1006, 1015) else 1000)
                    except OSError:
                        pass
                return frame
            if op in (OP_PING, OP_PONG):
                frame = (op, payload)
                self.seen.append(frame)
                return frame
            if op == OP_CONT:
                if self._frag_op is None:
                    raise WSError("continuation frame without a start; seen: %s" % self.history())
                self._frag += payload
            else:
                if self._frag_op is not None:
                    raise WSError("new data frame inside a fragmented message; seen: %s" % self.history())
                self._frag_op = op
                self._frag = bytearray(payload)
            if not fin:
                continue
            op, data = self._frag_op, bytes(self._frag)
            self._frag_op, self._frag = None, bytearray()
            if op == OP_TEXT:
                try:
                    data = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise WSError("server sent invalid UTF-8 in a text frame: %r" % data[:200])
            frame = (op, data)
            self.seen.append(frame)
            return frame

    def recv_frame(self, timeout=None):
        """The next frame: (OP_TEXT, str), (OP_BINARY, bytes), (OP_CLOSE, (code, reason)),
        (OP_PING/OP_PONG, bytes). Fragmented messages come back assembled."""
        return self._frame(time.monotonic() + (self.timeout if timeout is None else timeout))

    def recv_json(self, timeout=None):
        """The very next frame, which must be a text frame holding a JSON object."""
        op, payload = self.recv_frame(timeout)
        if op != OP_TEXT:
            raise WSError("expected a JSON text frame, got %s; seen: %s" % (describe((op, payload)), self.history()))
        try:
            obj = json.loads(payload)
        except ValueError as e:
            raise WSError("server sent a text frame that is not JSON (%s): %r" % (e, payload[:300]))
        if not isinstance(obj, dict):
            raise WSError("server sent JSON that is not an object: %r" % payload[:300])
        return obj

    def expect(self, type=None, event=None, timeout=None, match=None, **fields):
        """Read frames until a JSON object with the given type/event/field values
        (and for which match(obj) is true, if given) arrives; return it. Fails with
        every frame seen if the deadline passes or the connection closes first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        want = dict(fields)
        if type is not None:
            want["type"] = type
        if event is not None:
            want["event"] = event
        start = len(self.seen)
        while True:
            try:
                op, payload = self._frame(deadline)
            except WSError as e:
                raise WSError("expected a frame with %r%s; frames seen meanwhile: %s (%s)"
                              % (want, " and a match()" if match else "", self.history(start),
                                 e.__class__.__name__)) from None
            if op == OP_CLOSE:
                raise WSError("expected a frame with %r but the server closed %r; frames seen meanwhile: %s"
                              % (want, payload, self.history(start)))
            if op != OP_TEXT:
                continue
            try:
                obj = json.loads(payload)
            except ValueError:
                continue
            if isinstance(obj, dict) and all(obj.get(k) == v for k, v in want.items()) and (
                    match is None or match(obj)):
                return obj

    def expect_close(self, timeout=None, allow_eof=False):
        """Read (and discard) frames until a close frame; return (code, reason).
        With allow_eof, a connection that just ends returns (None, 'eof')."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        start = len(self.seen)
        while True:
            try:
                op, payload = self._frame(deadline)
            except WSClosed:
                if allow_eof:
                    return None, "eof"
                raise WSClosed("expected a close frame, the connection just ended; seen: %s"
                               % self.history(start)) from None
            except WSTimeout:
                raise WSTimeout("expected a close frame within the timeout; seen: %s"
                                % self.history(start)) from None
            if op == OP_CLOSE:
                return payload

    def expect_silence(self, timeout=0.3):
        """Assert that no frame arrives within timeout."""
        try:
            frame = self.recv_frame(timeout)
        except WSTimeout:
            return
        raise WSError("expected no frame, got %s" % describe(frame))

    def drain(self, timeout=0.2):
        """Read and return every frame that arrives within timeout (until quiet)."""
        out = []
        while True:
            try:
                out.append(self.recv_frame(timeout))
            except (WSTimeout, WSClosed):
                return out

    def history(self, start=0, limit=40):
        frames = self.seen[start:]
        shown = [describe(f) for f in frames[-limit:]]
        more = len(frames) - len(shown)
        return ("[%d earlier frames] " % more if more > 0 else "") + repr(shown)


def ipaddr_is_loopback(host):
    try:
        return socket.inet_aton(host)[0] == 127
    except OSError:
        return False


def ws_path(room, name=None, since=None, query=None):
    """/ws/{room} with ?name=...&since=... (URL-encoded)."""
    params = []
    if name is not None:
        params.append(("name", name))
    if since is not None:
        params.append(("since", str(since)))
    if query:
        params.extend(query.items() if isinstance(query, dict) else query)
    path = "/ws/" + room
    if params:
        path += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    return path


def connect(port, room="general", name=None, since=None, host="127.0.0.1", source=None, rcvbuf=None,
            headers=None, timeout=None, path=None, query=None):
    """Open a chat socket, asserting the upgrade (101). query: more parameters
    ({"multi": "1"}, ...) after name and since."""
    ws = WSClient(port, path or ws_path(room, name, since, query), host=host, source=source, rcvbuf=rcvbuf,
                  headers=headers, timeout=timeout)
    ws.handshake(raise_on_refusal=True)
    return ws
