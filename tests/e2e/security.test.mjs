// Safety: hostile names and texts are shown literally and never run; the page
// carries its own strict CSP and causes no violation while it is used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitMembers, waitConnected,
} from './helpers.mjs';

const IMG = '<img src=x onerror=window.__xss=1>';
const SCRIPT = '<script>window.__xss=1</script>';
const IMG_NAME = '<img src=x onerror=__xss=1>';   // nicknames are at most 32 characters

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

test('XSS payloads in names and texts are rendered literally', async () => {
  const a = await openClient(browser, srv, { name: SCRIPT, room: 'xss' });
  const b = await openClient(browser, srv, { name: IMG_NAME, room: 'xss' });
  try {
    await waitMembers(a, [SCRIPT, IMG_NAME]);
    await say(a, IMG);
    await say(b, SCRIPT);
    const rowA = await waitMessage(b, IMG);
    const rowB = await waitMessage(a, SCRIPT);
    assert.equal(await rowA.locator('.text').textContent(), IMG);
    assert.equal(await rowA.locator('.author').textContent(), SCRIPT);
    assert.equal(await rowB.locator('.text').textContent(), SCRIPT);
    assert.equal(await rowB.locator('.author').textContent(), IMG_NAME);

    // A rename to a payload, seen in system notices and the member list.
    await say(b, `/nick ${'<b onmouseover=__xss=1>x</b>'}`);
    await waitMembers(a, [SCRIPT, '<b onmouseover=__xss=1>x</b>']);

    for (const p of [a, b]) {
      await p.waitForTimeout(300);
      assert.equal(await p.evaluate(() => typeof window.__xss), 'undefined');
      assert.equal(await p.locator('#app img, #app b, #app script').count(), 0, 'markup from data reached the DOM');
      assert.equal(await p.evaluate(() => document.scripts.length), 1);
    }
  } finally {
    await closePage(a);
    await closePage(b);
  }
});

test('the page has its own CSP and no CSP violation while it is used', async () => {
  const a = await openClient(browser, srv, { name: 'Cora', room: 'csp' });
  const small = await openClient(browser, srv, { name: 'Milo', room: 'csp', viewport: { width: 375, height: 740 } });
  try {
    const csp = await a.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.content);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /style-src 'self'/);
    assert.equal(await a.locator('[style]').count(), 0, 'an inline style attribute in the page');
    assert.equal(await a.locator('[onclick]').count(), 0);

    // Exercise the UI: messages, textarea growth, notices, commands, room switch, rename, sidebar.
    await say(a, 'line one');
    await a.fill('#msg-input', 'x\ny\nz');
    await a.press('#msg-input', 'Shift+Enter');
    await a.fill('#msg-input', '');
    await say(small, 'hello from a phone');
    await waitMessage(a, 'hello from a phone');
    await say(a, '/help');
    await say(a, '/nosuch');
    await say(a, '/join csp-two');
    await a.waitForFunction(() => document.querySelector('#room-title').textContent === 'csp-two');
    await waitConnected(a);
    await a.fill('#nick-input', 'Cora2x');
    await a.press('#nick-input', 'Enter');
    await a.waitForFunction(() => document.querySelector('#nick-input').value === 'Cora2x');

    // 375 px wide: no horizontal scrolling; the sidebar opens behind a toggle.
    assert.ok(await small.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
    assert.equal(await small.locator('#member-list').isVisible(), false);
    await small.click('#sidebar-toggle');
    await small.locator('#member-list').waitFor({ state: 'visible' });
    assert.equal(await small.getAttribute('#sidebar-toggle', 'aria-expanded'), 'true');
    await small.keyboard.press('Escape');
    await small.locator('#member-list').waitFor({ state: 'hidden' });

    for (const p of [a, small]) {
      assert.deepEqual(p.cspErrors, [], 'CSP errors on the console');
      assert.deepEqual(await p.evaluate(() => window.__csp), [], 'securitypolicyviolation events');
      assert.deepEqual(p.consoleErrors.filter((e) => /pageerror/.test(e)), [], 'uncaught page errors');
    }
  } finally {
    await closePage(a);
    await closePage(small);
  }
});

test('keyboard only: Tab reaches the message box and Enter sends', async () => {
  const page = await openClient(browser, srv, { name: 'Kay', room: 'keys' });
  try {
    // The skip link is the first stop and leads to the message box.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement.id === 'msg-input');
    await page.keyboard.type('typed with keys only');
    await page.keyboard.press('Enter');
    await waitMessage(page, 'typed with keys only');
    // Every form control has a label.
    const unlabeled = await page.$$eval('input, textarea', (els) => els.filter((e) => !e.labels || e.labels.length === 0).map((e) => e.id));
    assert.deepEqual(unlabeled, []);
    assert.equal(await page.locator('main').count(), 1);
    assert.equal(await page.locator('nav').count(), 1);
    assert.ok(await page.locator('[aria-live]').count() >= 2);
  } finally {
    await closePage(page);
  }
});
