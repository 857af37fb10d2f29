// What Node's `ws` client reports for a WebSocket handshake chatd refuses.
// Usage: node refusal.mjs '[{"url":"ws://127.0.0.1:PORT/ws/x","origin":"http://a"}, ...]' [--on-stdin]
// With --on-stdin it prints "ready" once loaded and starts at the first line
// on stdin (so a test can time the handshakes without node's start-up).
// Prints one JSON array: per case, the plain 'error' event's message (what a
// program without extra handlers sees), and what the 'unexpected-response'
// handler sees (status, status message, HTTP version, headers, body), or
// "opened" when the handshake was not refused. Each case times out after 5 s.
import WebSocket from 'ws';

function once(url, origin, withHandler) {
  return new Promise((resolve) => {
    const out = {};
    const ws = new WebSocket(url, origin ? { origin } : {});
    const timer = setTimeout(() => { out.timeout = true; ws.terminate(); resolve(out); }, 5000);
    const done = () => { clearTimeout(timer); resolve(out); };
    if (withHandler) {
      ws.on('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          Object.assign(out, { status: res.statusCode, statusMessage: res.statusMessage,
            httpVersion: res.httpVersion, headers: res.headers, body });
          req.destroy();
          done();
        });
      });
    }
    ws.on('error', (e) => { out.error = e.message; done(); });
    ws.on('open', () => { out.opened = true; ws.close(); done(); });
  });
}

const cases = JSON.parse(process.argv[2]);
if (process.argv[3] === '--on-stdin') {
  console.log('ready');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}
const results = [];
for (const c of cases) {
  const plain = await once(c.url, c.origin, false);
  const handled = await once(c.url, c.origin, true);
  results.push({ url: c.url, plain, handled });
}
console.log(JSON.stringify(results));
