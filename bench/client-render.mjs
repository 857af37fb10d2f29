#!/usr/bin/env node
// bench/client-render.mjs: how fast the browser client renders a burst. One reader page
// (Debian's Chromium, playwright-core from tests/e2e) is in ROOMS rooms; a plain Node
// socket sends PER_ROOM messages to each as fast as it can (live), then a second reader
// loads the page into the same rooms and gets them as history replay (reload).
// Reported: time from the first frame received to the last one rendered (the sidebar's
// counts and the shown room's rows in the DOM), frames per second, and the main thread's
// long tasks (PerformanceObserver 'longtask': tasks over 50 ms, a visible stall).
// Not a test: figures for docs/client.md. Usage: node bench/client-render.mjs [rooms] [per_room]
import net from 'node:net';
import crypto from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, pluginsBuilt } =
  await import(path.join(here, '..', 'tests', 'e2e', 'helpers.mjs'));

const ROOMS = Number(process.argv[2] || 10);
const PER_ROOM = Number(process.argv[3] || 200);
const rooms = Array.from({ length: ROOMS }, (_, i) => `bench-${i}`);

/** A minimal WebSocket client (text frames out, frames in ignored): the sender. */
function rawSocket(port, pathAndQuery) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const key = crypto.randomBytes(16).toString('base64');
    let head = '';
    sock.once('error', reject);
    sock.on('data', function onData(chunk) {
      if (head !== null) {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        if (!/^HTTP\/1\.1 101/.test(head)) { reject(new Error(head.split('\r\n')[0])); return; }
        head = null;
        resolve({
          send(obj) {
            const payload = Buffer.from(JSON.stringify(obj));
            const mask = crypto.randomBytes(4);
            const len = payload.length;
            const hdr = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]);
            for (let i = 0; i < len; i++) payload[i] ^= mask[i & 3];
            sock.write(Buffer.concat([hdr, mask, payload]));
          },
          close() { sock.destroy(); },
        });
      }
    });
    sock.write(`GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

/** Runs in the page before the client: the rooms to be in, frame arrival times, long tasks, DOM changes. */
function instrument(roomList) {
  return `(() => {
    localStorage.setItem('chatd.rooms', JSON.stringify(${JSON.stringify(roomList)}));
    const b = window.__bench = { frames: 0, first: 0, last: 0, longtasks: [], mutated: 0, handlerMs: 0, handlerMax: 0 };
    new PerformanceObserver((list) => { for (const e of list.getEntries()) b.longtasks.push([e.startTime, e.duration]); })
      .observe({ type: 'longtask', buffered: true });
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        let t0 = 0;
        let data = '';
        this.addEventListener('message', (ev) => {
          t0 = performance.now();
          data = ev.data;
          if (!/"type":"message"/.test(ev.data)) return;
          if (!b.frames++) b.first = t0;
          b.last = t0;
        });
        // Registered after the client's own listener (added right after the socket is made):
        // the time between the two is the client handling the frame.
        setTimeout(() => this.addEventListener('message', () => {
          const d = performance.now() - t0;
          b.handlerMs += d;
          if (d > b.handlerMax) { b.handlerMax = d; b.slowest = String(data).slice(0, 60); }
        }), 0);
      }
    };
    document.addEventListener('DOMContentLoaded', () => {
      new MutationObserver(() => { b.mutated = performance.now(); })
        .observe(document.body, { childList: true, subtree: true, characterData: true });
      new MutationObserver(() => { b.mutated = performance.now(); })
        .observe(document.querySelector('title'), { childList: true, subtree: true, characterData: true });
    });
  })();`;
}

/** Waits until the page shows every message (rows of the shown room + the sidebar's counts), then reads the figures. */
async function measure(page, expectFrames, expectRows, expectUnread) {
  await page.waitForFunction(([frames, rows, unread]) => {
    const shown = document.querySelectorAll('#log-holder .log > .msg').length;
    const m = document.title.match(/^\((\d+)\)/);
    return window.__bench.frames >= frames && shown >= rows && (m ? Number(m[1]) : 0) >= unread;
  }, [expectFrames, expectRows, expectUnread], { timeout: 120000, polling: 1000 });
  await page.waitForTimeout(300);   // let the last frame paint and any long task report
  return page.evaluate(() => {
    const b = window.__bench;
    // A frame is handled in its own task: rendered into its (maybe hidden) room's log when its
    // task ends; the shown room and the sidebar are in the DOM, watched by the MutationObserver.
    return {
      frames: b.frames, receiveMs: b.last - b.first, renderedMs: Math.max(b.mutated, b.last) - b.first,
      handlerMs: b.handlerMs, handlerMaxMs: b.handlerMax, slowest: b.slowest,
      longtasks: b.longtasks.filter(([start, d]) => start + d >= b.first).map(([, d]) => d),
      pageLoadLongtasks: b.longtasks.filter(([start, d]) => start + d < b.first).map(([, d]) => d),
    };
  });
}

function report(label, r) {
  const lt = r.longtasks;
  const max = lt.length ? Math.max(...lt) : 0;
  console.log(`${label}: ${r.frames} message frames; received over ${r.receiveMs.toFixed(0)} ms, all rendered ${r.renderedMs.toFixed(0)} ms after the first ` +
    `(the client's frame handler: ${(r.handlerMs / r.frames * 1000).toFixed(0)} us per frame on average, ${r.handlerMaxMs.toFixed(1)} ms at most) ` +
    `(${(r.frames / (r.renderedMs / 1000)).toFixed(0)} messages/s); long tasks: ${lt.length}` +
    (lt.length ? ` (max ${max.toFixed(0)} ms, total ${lt.reduce((a, x) => a + x, 0).toFixed(0)} ms)` : '') +
    `; before the first frame (page load): ${r.pageLoadLongtasks.length} long tasks` +
    (r.rendererCpuMs !== undefined ? `; renderer CPU ${r.rendererCpuMs.toFixed(0)} ms = ${(r.rendererCpuMs / r.frames * 1000).toFixed(0)} us per message` : ''));
  return { ...r, longtaskCount: lt.length, longtaskMaxMs: max };
}

let browserCdp = null;
/**
 * CPU time (ms) the renderer processes have used so far (Chromium's SystemInfo): unlike
 * wall time it does not grow while the machine is busy with something else. During a
 * burst only the reader's renderer works (the sender is this Node process).
 */
async function rendererCpuMs() {
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
  return processInfo.filter((p) => p.type === 'renderer').reduce((a, p) => a + p.cpuTime * 1000, 0);
}

const withHistory = pluginsBuilt('history');
// BENCH_WEBROOT: another copy of web/ (an A/B of two versions of the client, interleaved by the caller).
const srv = await startChatd({
  ...(process.env.BENCH_WEBROOT ? { webroot: process.env.BENCH_WEBROOT } : {}),
  config: (port) => `[server]\nport = ${port}\n${withHistory ? `\n[plugin history]\nreplay = ${PER_ROOM}\nmax_replay = ${PER_ROOM}\n` : ''}`,
});
const browser = await launchBrowser();
browserCdp = await browser.newBrowserCDPSession();
const results = {};
try {
  const reader = await openClient(browser, srv, { name: 'Reader', room: rooms[0], initScript: instrument(rooms) });
  await reader.waitForFunction((n) => document.querySelectorAll('#room-list > li').length === n, ROOMS);
  await reader.waitForTimeout(500);   // every join answered
  const sender = await rawSocket(srv.port, `/ws/${rooms[0]}?name=Sender&multi=1`);
  for (const r of rooms.slice(1)) sender.send({ type: 'join', room: r });
  await new Promise((r) => setTimeout(r, 300));
  const cpu0 = await rendererCpuMs();
  for (let i = 0; i < PER_ROOM; i++) {
    for (const r of rooms) sender.send({ type: 'message', room: r, text: `message ${i} in ${r}: the quick brown fox jumps over the lazy dog`, client_id: `b${i}` });
  }
  const live = await measure(reader, ROOMS * PER_ROOM, PER_ROOM, (ROOMS - 1) * PER_ROOM);
  live.rendererCpuMs = (await rendererCpuMs()) - cpu0;
  results.live = report(`live burst, ${ROOMS} rooms x ${PER_ROOM}`, live);
  await closePage(reader);
  if (withHistory) {
    const again = await openClient(browser, srv, { name: 'Reloader', room: rooms[0], initScript: instrument(rooms) });
    results.replay = report(`page load with replay, ${ROOMS} rooms x ${PER_ROOM}`, await measure(again, ROOMS * PER_ROOM, PER_ROOM, 0));
    await closePage(again);
  }
  sender.close();
} finally {
  await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
}
console.log(JSON.stringify({ rooms: ROOMS, per_room: PER_ROOM, ...results }));
