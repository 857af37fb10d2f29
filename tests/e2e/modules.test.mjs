// The client is ES modules (web/app.js and web/js/*.js) loaded without a build step:
// every module the page imports is served as JavaScript (a module with another
// Content-Type does not run), nothing under web/ is left out of `make install`,
// and the page starts with no error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, ROOT, WEBROOT,
} from './helpers.mjs';

let srv;
let browser;

before(async () => {
  srv = await startChatd();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

/** Every module reachable from the page's module script through static imports, with its answer. */
async function crawlModules(base) {
  const html = await (await fetch(`${base}/`)).text();
  const entry = html.match(/<script type="module" src="([^"]+)"><\/script>/);
  assert.ok(entry, 'index.html has no <script type="module" src=...>');
  const seen = new Map();
  const queue = [new URL(entry[1], `${base}/`).href];
  while (queue.length) {
    const url = queue.shift();
    if (seen.has(url)) continue;
    const res = await fetch(url);
    const body = await res.text();
    seen.set(url, { status: res.status, type: res.headers.get('content-type') });
    for (const m of body.matchAll(/^\s*import\s[^'"]*from\s*'([^']+)'/gm)) queue.push(new URL(m[1], url).href);
  }
  return seen;
}

test('every module is served as JavaScript and every web file is installed', async () => {
  const modules = await crawlModules(srv.url);
  assert.ok(modules.size >= 10, `only ${modules.size} modules reachable`);
  for (const [url, { status, type }] of modules) {
    assert.equal(status, 200, url);
    assert.match(type, /^text\/javascript\b/, `${url} is served as ${type}`);
  }
  // No module file is left unused (an orphan would be installed for nothing).
  const reachable = new Set([...modules.keys()].map((u) => new URL(u).pathname.slice(1)));
  const onDisk = ['app.js', ...fs.readdirSync(path.join(WEBROOT, 'js')).filter((f) => f.endsWith('.js')).map((f) => `js/${f}`)];
  assert.deepEqual([...reachable].sort(), onDisk.sort());

  // make install copies what Makefile.am lists: every file under web/ must be listed.
  const makefile = path.join(ROOT, 'Makefile.am');
  const listed = new Set(fs.readFileSync(makefile, 'utf8').match(/\bweb\/[\w./-]+/g));
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p); else files.push(path.relative(ROOT, p));
    }
  };
  walk(WEBROOT);
  assert.deepEqual(files.filter((f) => !listed.has(f)), [], 'web files missing from Makefile.am (make install would leave them out)');
  assert.deepEqual([...listed].filter((f) => !fs.existsSync(path.join(ROOT, f))), [], 'Makefile.am lists web files that do not exist');
});

test('the page starts from its modules with no error and chats', async () => {
  const page = await openClient(browser, srv, { name: 'Mo', room: 'modules' });
  try {
    await say(page, 'modules work');
    await waitMessage(page, 'modules work');
    assert.equal(await page.evaluate(() => document.querySelector('script').type), 'module');
    assert.deepEqual(page.consoleErrors, []);
  } finally {
    await closePage(page);
  }
});
