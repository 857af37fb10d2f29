// Shared helpers for the browser end-to-end tests (node:test + playwright-core + Debian's chromium).
// Each test file starts its own chatd on a free port and stops it again.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The source tree (web/, docs/); the build tree (chatd, plugins) is TOP_BUILDDIR when they differ. */
export const ROOT = path.resolve(HERE, '..', '..');
const BUILD = process.env.TOP_BUILDDIR || ROOT;
export const CHATD = process.env.CHATD || path.join(BUILD, 'chatd');
export const WEBROOT = path.join(ROOT, 'web');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const PLUGIN_DIR = process.env.CHATD_PLUGIN_DIR || path.join(BUILD, 'plugins');
// run.sh installs playwright-core where it may write (E2E_MODULES: the build tree's tests/e2e).
const { chromium } = createRequire(path.join(process.env.E2E_MODULES || HERE, 'package.json'))('playwright-core');

/** True when every named plugin is built (plugins/NAME/NAME.so or plugins/NAME.so). */
export function pluginsBuilt(...names) {
  return names.every((n) => fs.existsSync(path.join(PLUGIN_DIR, n, `${n}.so`)) || fs.existsSync(path.join(PLUGIN_DIR, `${n}.so`)));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True when nothing holds TCP `port` on any address (chatd listens on all of them). */
function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '::' }, () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port that was free a moment ago, below 32768. Not from the kernel's ephemeral
 * range (32768-60999 here): there every outgoing connection on the machine takes local
 * ports, and one may take ours between two runs of chatd on it (the reconnect tests
 * restart chatd on the same port), so that chatd cannot listen ("Address already in use").
 */
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    if (await portFree(port)) return port;
  }
  throw new Error('no free TCP port found in 20000-32767');
}

/** Polls GET /healthz until it answers 200. */
async function waitHealthy(port, proc, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) return false;
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(500) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch { /* not up yet */ }
    await sleep(50);
  }
  return false;
}

/**
 * Starts chatd: `chatd -c <config> -p <port> -w <webroot> -D <datadir>` (plus `-P <plugindir>` when the config loads plugins).
 * options: port (default: a free one), webroot (default: web/), dataDir (default: a new temp dir),
 * config (text, or a function of the port giving it; default: "[server]\nport = <port>").
 */
export async function startChatd(options = {}) {
  // A port that was free a moment ago can be taken by another test's socket
  // before chatd binds it (exit code 5): then try another one.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startChatdOnce(options);
    } catch (e) {
      if (options.port !== undefined || attempt >= 5 || !e.cannotListen) throw e;
    }
  }
}

async function startChatdOnce(options) {
  if (!fs.existsSync(CHATD)) throw new Error(`chatd binary not found at ${CHATD} (run make, or set CHATD)`);
  const port = options.port ?? await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-e2e-'));
  const dataDir = options.dataDir ?? path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const configPath = path.join(dir, 'chatd.conf');
  const config = typeof options.config === 'function' ? options.config(port) : options.config;
  fs.writeFileSync(configPath, config ?? `[server]\nport = ${port}\n`);
  const webroot = options.webroot ?? WEBROOT;

  const args = ['-c', configPath, '-p', String(port), '-w', webroot, '-D', dataDir];
  // Plugins load from the build tree (plugins/NAME/NAME.so) unless told otherwise.
  if (options.pluginDir || /^\s*\[plugin /m.test(config ?? '')) args.push('-P', options.pluginDir ?? PLUGIN_DIR);
  const proc = spawn(CHATD, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk) => { output = (output + chunk.toString()).slice(-65536); };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const srv = { port, proc, dir, dataDir, webroot, url: `http://127.0.0.1:${port}`, output: () => output, stopping: false };
  // An exit nobody asked for is a server crash: say so loudly, with the server's last words.
  srv.exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    if (!srv.stopping) {
      process.stderr.write(`\n*** chatd on port ${port} exited unexpectedly (code ${code}, signal ${signal}); its output:\n${output}\n`);
    }
    resolve();
  }));
  if (!await waitHealthy(port, proc, options.timeoutMs ?? 5000)) {
    await stopChatd(srv, 'SIGKILL');
    const err = new Error(`chatd did not answer /healthz on port ${port} within 5 s; its output:\n${output}`);
    err.cannotListen = proc.exitCode === 5;
    cleanupChatd(srv);
    throw err;
  }
  return srv;
}

/** Stops chatd (SIGTERM by default) and waits for it to exit; SIGKILL after 5 s. */
export async function stopChatd(srv, signal = 'SIGTERM') {
  if (!srv || !srv.proc) return;
  const { proc } = srv;
  srv.stopping = true;
  if (proc.exitCode === null && proc.signalCode === null) {
    proc.kill(signal);
    const done = await Promise.race([srv.exited.then(() => true), sleep(5000).then(() => false)]);
    if (!done) { proc.kill('SIGKILL'); await srv.exited; }
  }
  return { code: proc.exitCode, signal: proc.signalCode };
}

/** Removes the temporary directory of a stopped chatd. */
export function cleanupChatd(srv) {
  if (srv && srv.dir) fs.rmSync(srv.dir, { recursive: true, force: true });
}

/** Debian's chromium, headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/**
 * Opens the bundled client as `name` in `room`, in a fresh browser context (its own localStorage),
 * and waits until it is connected. The page records WebSocket constructions (window.__wsCount),
 * the last socket (window.__lastWs) and CSP violations (window.__csp, plus page.cspErrors from the console).
 * initScript: another function to run in every page of the context before the client's scripts.
 */
export async function openClient(browser, srv, { name, room = 'general', viewport = { width: 1280, height: 800 }, wait = true, initScript } = {}) {
  const context = await browser.newContext({ viewport });
  if (initScript) await context.addInitScript(initScript);
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__wsCount = 0;
    window.__csp = [];
    window.WebSocket = class extends Native {
      constructor(...args) { super(...args); window.__wsCount += 1; window.__lastWs = this; }
    };
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
    // Whether the person is looking: tests hide or blur a tab with setAttention(page, {...}).
    // Headless pages are all "visible and focused"; this makes that explicit and switchable.
    const attention = { hidden: false, focused: true };
    Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (attention.hidden ? 'hidden' : 'visible') });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => attention.hidden });
    Document.prototype.hasFocus = () => attention.focused && !attention.hidden;
    window.__setAttention = (a) => {
      Object.assign(attention, a);
      document.dispatchEvent(new Event('visibilitychange'));
      window.dispatchEvent(new Event(attention.focused && !attention.hidden ? 'focus' : 'blur'));
    };
  });
  const page = await context.newPage();
  page.cspErrors = [];
  page.consoleErrors = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy/i.test(text)) page.cspErrors.push(text);
    if (msg.type() === 'error') page.consoleErrors.push(text);
  });
  page.on('pageerror', (err) => page.consoleErrors.push(`pageerror: ${err.message}`));
  const query = name === undefined ? '' : `?name=${encodeURIComponent(name)}`;
  await page.goto(`${srv.url}/${query}#${room}`);
  if (wait) await waitConnected(page);
  return page;
}

/** Makes the page look hidden ({hidden:true}), unfocused ({focused:false}) or back in view. */
export function setAttention(page, attention) {
  return page.evaluate((a) => window.__setAttention(a), attention);
}

/** The unread badge of a conversation in the sidebar ('' when none), e.g. badge(page, '#random'), badge(page, '@bob'). */
export async function badge(page, key) {
  return page.evaluate((k) => {
    const li = [...document.querySelectorAll('#room-list > li, #dm-list > li')].find((e) => e.dataset.key === k);
    const b = li && li.querySelector('.badge');
    return b ? b.textContent : '';
  }, key);
}

/** Waits until the badge of a conversation reads `text` ('' for none). */
export async function waitBadge(page, key, text, timeout = 15000) {
  try {
    await page.waitForFunction(([k, t]) => {
      const li = [...document.querySelectorAll('#room-list > li, #dm-list > li')].find((e) => e.dataset.key === k);
      const b = li && li.querySelector('.badge');
      return li && (b ? b.textContent : '') === t;
    }, [key, text], { timeout });
  } catch (err) {
    throw new Error(`badge of ${key} is ${JSON.stringify(await badge(page, key))}, expected ${JSON.stringify(text)}`);
  }
}

export async function waitConnected(page, timeout = 15000) {
  await page.waitForSelector('#conn[data-state="connected"]', { timeout });
}

/** Types into the composer and presses Enter. */
export async function say(page, text) {
  await page.fill('#msg-input', text);
  await page.press('#msg-input', 'Enter');
}

/** Waits for a message row (not pending) whose text is exactly `text`; returns its locator. */
export async function waitMessage(page, text, { timeout = 15000, pending = false } = {}) {
  const row = page.locator(`.log > .msg${pending ? '' : ':not(.pending)'}`).filter({
    has: page.locator('.text', { hasText: text }),
  }).last();
  await row.waitFor({ state: 'visible', timeout });
  return row;
}

/** Names shown in the member list, in order. */
export function memberNames(page) {
  return page.$$eval('#member-list .member-name', (els) => els.map((e) => e.textContent));
}

/** Waits until the member list equals `expected` (order-insensitive). */
export async function waitMembers(page, expected, timeout = 15000) {
  const want = [...expected].sort();
  try {
    await page.waitForFunction((w) => {
      const got = [...document.querySelectorAll('#member-list .member-name')].map((e) => e.textContent).sort();
      return JSON.stringify(got) === JSON.stringify(w);
    }, want, { timeout });
  } catch (err) {
    throw new Error(`member list is ${JSON.stringify(await memberNames(page))}, expected ${JSON.stringify(want)}`);
  }
}

export async function closePage(page) {
  if (page) await page.context().close();
}

export { sleep };
