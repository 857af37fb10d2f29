// bench/peers/socketio/server.js: the Socket.IO rooms chat server that chatd's
// benchmark measures as a peer (what many people would pick instead of chatd).
// Written the way a Socket.IO chat tutorial does it, nothing tuned:
//   - a client connects with ?room=NAME&name=NICK in the handshake query and joins
//     that Socket.IO room (default in-memory adapter, one process);
//   - everyone in the room is told when someone joins or leaves ("system" event);
//   - each "message" event ({text}) is sent to the whole room, sender included,
//     with io.to(room).emit("message", {name, text}).
// Run: PORT=8000 node server.js   (HOST defaults to 127.0.0.1; the benchmark
// starts it from bench/bench.py after `npm ci` here). SIGTERM stops it.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 8000);

const httpServer = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end("ok\n");
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found\n");
});

// Socket.IO's defaults (25 s, 20 s) unless set: the generator's self-test shortens
// them to check that it answers every ping.
const io = new Server(httpServer, {
  pingInterval: Number(process.env.PING_INTERVAL_MS || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT_MS || 20000),
});

io.on("connection", (socket) => {
  const room = String(socket.handshake.query.room || "lobby");
  const name = String(socket.handshake.query.name || "Anonymous");
  socket.join(room);
  io.to(room).emit("system", { text: `${name} joined the chat` });

  socket.on("message", (msg) => {
    if (!msg || typeof msg.text !== "string") return;
    io.to(room).emit("message", { name, text: msg.text });
  });

  socket.on("disconnect", () => {
    io.to(room).emit("system", { text: `${name} left the chat` });
  });
});

httpServer.listen(port, host, () => {
  console.log(`socket.io chat on http://${host}:${port}`);
});

process.on("SIGTERM", () => {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
