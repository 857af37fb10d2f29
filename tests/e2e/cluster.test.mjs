// The browser client on a cluster (issue 17): two chatd nodes on one Redis (AOF on, its
// own redis-server on a free port), the page behind a small TCP load balancer in this
// file. Messages and people cross nodes; a reader who was away while more went by than
// the room keeps reconnects through the balancer to the other node and is TOLD that
// earlier messages are gone (the server's gap frame), above the newest ones it gets:
// never a silent hole. Skipped without the cluster plugin or redis-server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, freePort,
  say, waitMessage, waitMembers, waitConnected, pluginsBuilt, sleep,
} from './helpers.mjs';

function findRedis() {
  if (process.env.REDIS_SERVER) return process.env.REDIS_SERVER;
  try { return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null; } catch { return null; }
}
const REDIS = findRedis();
const skip = !pluginsBuilt('cluster', 'typing', 'privmsg') ? 'cluster, typing or privmsg plugin not built'
  : !REDIS ? 'redis-server not found (apt-get install redis-server)' : false;

let redis;
let redisDir;
let nodes = [];
let lb;
let browser;

/** redis-server with AOF on a free port, in a temp dir; resolves once it answers PING. */
async function startRedis() {
  const port = await freePort();
  redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-redis-'));
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes',
    '--save', '', '--daemonize', 'no', '--protected-mode', 'no', '--logfile', path.join(redisDir, 'redis.log')],
  { stdio: 'ignore' });
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
      s.on('data', (d) => { s.destroy(); resolve(/PONG/.test(d.toString())); });
      s.on('error', () => resolve(false));
    });
    if (up) return { port, proc };
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within 10 s`);
}

/**
 * A TCP load balancer: every connection goes to `target` (a node), both ways. refuse()
 * drops new connections (the page cannot reach any node), cut() drops the open ones.
 */
function startBalancer(port, target) {
  const pairs = new Set();
  const lbState = { target, refusing: false };
  const server = net.createServer((client) => {
    if (lbState.refusing) { client.destroy(); return; }
    const up = net.connect(lbState.target.port, '127.0.0.1');
    const pair = { client, up };
    pairs.add(pair);
    const drop = () => { client.destroy(); up.destroy(); pairs.delete(pair); };
    client.on('error', drop); up.on('error', drop); client.on('close', drop); up.on('close', drop);
    client.pipe(up); up.pipe(client);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(Object.assign(lbState, {
    url: `http://127.0.0.1:${port}`,
    cut() { for (const p of [...pairs]) { p.client.destroy(); p.up.destroy(); pairs.delete(p); } },
    close() { this.cut(); return new Promise((r) => server.close(r)); },
  }))));
}

const nodeConfig = (redisPort) => (port) => `[server]\nport = ${port}\n[plugin typing]\n[plugin privmsg]\n`
  + `[plugin cluster]\nredis = 127.0.0.1:${redisPort}\nretention = 100\nmax_replay = 50\naddress_messages_per_second = 0\n`;

before(async () => {
  if (skip) return;
  redis = await startRedis();
  for (let i = 0; i < 2; i++) nodes.push(await startChatd({ config: nodeConfig(redis.port) }));
  for (const n of nodes) {   // registered with the cluster: a handshake is accepted
    const deadline = Date.now() + 10000;
    while (!/registered as node/.test(n.output())) {
      if (Date.now() > deadline) throw new Error(`node on ${n.port} did not register:\n${n.output()}`);
      await sleep(50);
    }
  }
  lb = await startBalancer(await freePort(), nodes[0]);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (lb) await lb.close();
  for (const n of nodes) { await stopChatd(n); cleanupChatd(n); }
  if (redis) { redis.proc.kill('SIGKILL'); await new Promise((r) => (redis.proc.exitCode !== null ? r() : redis.proc.once('exit', r))); }
  if (redisDir) fs.rmSync(redisDir, { recursive: true, force: true });
});

/** One Redis command (RESP); resolves with the first line of the answer. */
function redisCall(...args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(redis.port, '127.0.0.1', () => {
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    s.on('data', (d) => { s.destroy(); resolve(d.toString().split('\r\n')[0]); });
    s.on('error', reject);
  });
}

/** Sends n messages from a fresh socket of `page` to the page's own server; resolves when each is acknowledged. */
function sendMany(page, room, n, prefix) {
  return page.evaluate(async ([r, count, p]) => {
    const ws = new WebSocket(`ws://${location.host}/ws/${r}?name=bulk`);
    await new Promise((ok, fail) => {   // a join is held until the room is live on the node: wait for its welcome
      ws.onmessage = (e) => { if (JSON.parse(e.data).type === 'welcome') ok(); };
      ws.onerror = () => fail(new Error('bulk socket failed'));
    });
    let acked = 0;
    const done = new Promise((ok, fail) => {
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'message' && f.client_id) { acked += 1; if (acked === count) ok(); }
        if (f.type === 'error') fail(new Error(`bulk send refused: ${e.data}`));
      };
    });
    for (let i = 0; i < count; i++) ws.send(JSON.stringify({ type: 'message', room: r, text: `${p} ${i}`, client_id: `${p}${i}` }));
    await done;
    ws.close();
  }, [room, n, prefix]);
}

test('a room spans the nodes; back on the other node after a long absence, the page says what is gone', { skip }, async () => {
  const reader = await openClient(browser, lb, { name: 'reader', room: 'spread' });
  const talker = await openClient(browser, nodes[1], { name: 'talker', room: 'spread' });
  try {
    await waitMembers(reader, ['reader', 'talker']);
    await say(talker, 'hello from node B');
    await waitMessage(reader, 'hello from node B');
    await say(reader, 'hello from node A');
    await waitMessage(talker, 'hello from node A');

    // The reader drops off and cannot come back for a while (every node unreachable for it).
    lb.refusing = true;
    lb.cut();
    await reader.waitForFunction(() => document.querySelector('#conn').dataset.state !== 'connected');
    await sendMany(talker, 'spread', 450, 'bulk');   // the room keeps 100 (retention), replays 50 at most
    await waitMessage(talker, 'bulk 449');

    // Back, through the balancer, on the other node, with since= its last id.
    lb.target = nodes[1];
    lb.refusing = false;
    await reader.click('#retry-now').catch(() => {});   // (it may already be trying)
    await waitConnected(reader, 30000);
    await waitMessage(reader, 'bulk 449');
    const rows = await reader.$$eval('.log > li', (els) => els.map((e) => ({
      cls: e.className, text: (e.querySelector('.text') || e.querySelector('.sys-text') || e).textContent,
    })));
    const gapAt = rows.findIndex((r) => /no longer kept by the server/.test(r.text));
    assert.ok(gapAt >= 0, `no row says messages are gone: ${JSON.stringify(rows.slice(-8))}`);
    const m = rows[gapAt].text.match(/(\d+) earlier messages are no longer kept/);
    assert.ok(m && Number(m[1]) >= 1 && Number(m[1]) <= 350, rows[gapAt].text);
    // the kept messages beyond what a replay gives (max_replay): skipped, and said so too
    const skippedAt = rows.findIndex((r) => /Only the latest messages you missed are shown/.test(r.text));
    assert.ok(skippedAt > gapAt, `no row says the replay was cut short: ${JSON.stringify(rows.slice(gapAt, gapAt + 3))}`);
    assert.ok(/^bulk \d+$/.test(rows[skippedAt + 1].text), 'the replay follows the row that says it was cut short');
    const before = rows.slice(0, gapAt).map((r) => r.text);
    const afterGap = rows.slice(gapAt + 1).map((r) => r.text);
    assert.ok(before.some((t) => t.includes('hello from node A')), 'the messages seen before the absence come first');
    assert.ok(!before.some((t) => /^bulk /.test(t)), 'a replayed message above the gap row');
    const bulk = afterGap.filter((t) => /^bulk \d+$/.test(t)).map((t) => Number(t.split(' ')[1]));
    assert.deepEqual(bulk, bulk.slice().sort((a, b) => a - b), 'replayed out of order');
    assert.equal(bulk[bulk.length - 1], 449);
    assert.equal(new Set(bulk).size, bulk.length, 'a message shown twice');
    assert.ok(!bulk.includes(0), 'a message that is no longer kept was shown');

    // And the chat goes on across the nodes.
    await say(reader, 'back again');
    await waitMessage(talker, 'back again');
    // (the browser logs each refused reconnect itself; nothing else)
    assert.deepEqual(reader.consoleErrors.filter((e) => !/^WebSocket connection to .* failed/.test(e)), []);
  } finally {
    await closePage(reader);
    await closePage(talker);
  }
});

test('a room whose record Redis lost starts again: the page shows the new messages, not hides them as seen', { skip }, async () => {
  const reader = await openClient(browser, nodes[0], { name: 'keeper', room: 'lostrec' });
  const talker = await openClient(browser, nodes[1], { name: 'teller', room: 'lostrec' });
  try {
    await waitMembers(reader, ['keeper', 'teller']);
    for (const t of ['old one', 'old two', 'old three']) await say(talker, t);
    await waitMessage(reader, 'old three');
    // The room's record is gone (a Redis without persistence restarted); the nodes
    // subscribe again, find it so and send their members gap "reset".
    await redisCall('DEL', 'chatd:m:{lostrec}', 'chatd:s:{lostrec}');
    await redisCall('CLIENT', 'KILL', 'TYPE', 'pubsub');
    for (const page of [reader, talker]) {
      await page.locator('.log > li.sys', { hasText: 'without its message history' }).waitFor({ timeout: 15000 });
    }
    await say(talker, 'after the loss');   // id 1 again: before, the page dropped it as already shown
    await waitMessage(reader, 'after the loss');
    await waitMessage(talker, 'after the loss');
  } finally {
    await closePage(reader);
    await closePage(talker);
  }
});
