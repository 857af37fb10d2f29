#!/usr/bin/python3
"""bench/wstest_server.py: a deliberately awkward WebSocket server (stdlib only)
that checks the load generator's client side: make -C bench check.

Rooms by path like chatd; every text frame a client sends goes to every member
of its room as {"type":"message","text":...}, but
  - the answer to the upgrade and the welcome frame arrive in one write,
  - every room message is split into three fragments (text + 2 continuations),
    with a ping between the fragments,
  - frames are written in small pieces (partial headers and payloads),
  - every client frame must be masked (else close 1002), every pong must echo
    its ping's payload.
When the client closes, or after --seconds, it prints one JSON line of counts
and exits 0 if the client behaved, 1 otherwise.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

stats = {"clients": 0, "frames_in": 0, "unmasked": 0, "pings": 0, "pongs_ok": 0,
         "pongs_bad": 0, "messages": 0, "senders": 0, "closes": 0, "errors": 0}
rooms = {}
senders = set()  # clients that sent a room message (loadgen --publishers)


def frame(op, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | op])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class Client:
    def __init__(self, reader, writer, room):
        self.r, self.w, self.room = reader, writer, room
        self.pending_pings = []
        self.lock = asyncio.Lock()

    async def send_pieces(self, data, piece):
        async with self.lock:
            for i in range(0, len(data), piece):
                self.w.write(data[i:i + piece])
                await self.w.drain()

    async def send_message(self, text):
        payload = json.dumps({"type": "message", "room": self.room, "text": text},
                             separators=(",", ":")).encode()
        a, b = len(payload) // 3, 2 * len(payload) // 3
        ping = os.urandom(4)
        self.pending_pings.append(ping)
        stats["pings"] += 1
        data = (frame(1, payload[:a], fin=False) + frame(9, ping) +
                frame(0, payload[a:b], fin=False) + frame(0, payload[b:], fin=True))
        await self.send_pieces(data, 7)

    async def read_frame(self):
        h = await self.r.readexactly(2)
        op, n, masked = h[0] & 0x0F, h[1] & 0x7F, h[1] & 0x80
        if n == 126:
            n = struct.unpack("!H", await self.r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.r.readexactly(8))[0]
        key = await self.r.readexactly(4) if masked else None
        data = await self.r.readexactly(n)
        if key:
            data = bytes(b ^ key[i & 3] for i, b in enumerate(data))
        return bool(h[0] & 0x80), op, bool(masked), data


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except Exception:
        writer.close()
        return
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    hdrs = {}
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    key = hdrs.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    room = path.split("?")[0].rsplit("/", 1)[-1] or "root"
    c = Client(reader, writer, room)
    rooms.setdefault(room, set()).add(c)
    stats["clients"] += 1
    resp = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: %s\r\n\r\n" % accept).encode()
    welcome = json.dumps({"type": "welcome", "room": room}).encode()
    await c.send_pieces(resp + frame(1, welcome), 1 << 20)
    try:
        while True:
            fin, op, masked, data = await c.read_frame()
            stats["frames_in"] += 1
            if not masked:
                stats["unmasked"] += 1
                await c.send_pieces(frame(8, struct.pack("!H", 1002)), 1 << 20)
                break
            if op == 8:
                stats["closes"] += 1
                break
            if op == 10:
                if c.pending_pings and c.pending_pings[0] == data:
                    c.pending_pings.pop(0)
                    stats["pongs_ok"] += 1
                else:
                    stats["pongs_bad"] += 1
                continue
            if op == 1 and fin:
                msg = json.loads(data)
                stats["messages"] += 1
                if id(c) not in senders:
                    senders.add(id(c))
                    stats["senders"] += 1
                for m in list(rooms.get(room, ())):
                    await m.send_message(msg["text"])
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    except Exception as e:  # a bug in the client shows here
        stats["errors"] += 1
        print("wstest_server: %r" % e, file=sys.stderr)
    rooms.get(room, set()).discard(c)
    writer.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    srv = await asyncio.start_server(handle, "127.0.0.1", a.port)
    async with srv:
        await asyncio.sleep(a.seconds)
    ok = (stats["clients"] > 0 and stats["unmasked"] == 0 and stats["pongs_bad"] == 0
          and stats["pongs_ok"] > 0 and stats["errors"] == 0 and stats["messages"] > 0)
    print(json.dumps(stats))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    asyncio.run(main())
