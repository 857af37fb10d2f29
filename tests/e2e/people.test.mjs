// Names and presence: a first visit asks for a name before connecting (the room never
// sees "guest-1329 joined ... guest-1329 is now known as Alice"); the name is remembered.
// The browser's session key makes its tabs one person: a reload, a dropped connection or
// a second tab does not flap presence (the server's presence_grace_ms).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
  waitConnected, sleep,
} from './helpers.mjs';

let srv;
let browser;

const GRACE_MS = 2000;

before(async () => {
  srv = await startChatd({ config: (port) => `[server]\nport = ${port}\npresence_grace_ms = ${GRACE_MS}\n` });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

test('a first visit asks for a name before it connects', async () => {
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'hello' });
  const alice = await openClient(browser, srv, { room: 'hello', wait: false });
  try {
    const dialog = alice.locator('#name-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await alice.evaluate(() => document.activeElement.id), 'name-input');
    await sleep(300);
    assert.equal(await alice.evaluate(() => window.__wsCount), 0, 'connected before a name was given');
    // Escape does not skip it; an empty or bad name is explained.
    await alice.keyboard.press('Escape');
    assert.equal(await dialog.isVisible(), true);
    await alice.press('#name-input', 'Enter');
    assert.match(await alice.locator('#name-error').textContent(), /cannot be empty/);
    await alice.fill('#name-input', 'x'.repeat(33));
    await alice.press('#name-input', 'Enter');
    assert.match(await alice.locator('#name-error').textContent(), /at most 32/);

    await alice.fill('#name-input', '  Alice  ');
    await alice.press('#name-input', 'Enter');
    await waitConnected(alice);
    assert.equal(await dialog.isVisible(), false);
    await waitMembers(bob, ['Alice', 'Bob']);
    assert.equal(await alice.locator('#nick-input').inputValue(), 'Alice');
    assert.equal(await alice.evaluate(() => document.activeElement.id), 'msg-input');
    await say(alice, 'hi, I am new');
    await waitMessage(bob, 'hi, I am new');
    const notes = await bob.locator('.log > .sys').allTextContents();
    assert.ok(notes.some((t) => /Alice joined/.test(t)), JSON.stringify(notes));
    assert.ok(!notes.some((t) => /guest-|known as/.test(t)), `a guest name was seen: ${JSON.stringify(notes)}`);

    // The next visit knows the name.
    await alice.reload();
    await waitConnected(alice);
    assert.equal(await dialog.isVisible(), false);
    assert.equal(await alice.locator('#nick-input').inputValue(), 'Alice');
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

/** The presence notices (joined / left) about `name` in a page's log. */
const presence = (page, name) => page.$$eval('.log > .sys', (els, n) => els.map((e) => e.querySelector('.sys-text').textContent)
  .filter((t) => t.includes(n) && /joined|left/.test(t)), name);

test('a reload, a dropped connection or a second tab does not flap presence', async () => {
  const bob = await openClient(browser, srv, { name: 'Ben', room: 'steady' });
  const alice = await openClient(browser, srv, { name: 'Ana', room: 'steady' });
  let tab2;
  try {
    await waitMembers(bob, ['Ana', 'Ben']);
    const session = await alice.evaluate(() => JSON.parse(localStorage.getItem('chatd.session')));
    assert.match(session, /^[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(await presence(bob, 'Ana'), ['Ana joined the chat']);

    // A reload: a new page, the same session, within the grace period.
    await alice.reload();
    await waitConnected(alice);
    assert.equal(await alice.locator('#nick-input').inputValue(), 'Ana');
    // A dropped connection that comes back.
    // The first retry comes after a random 0-500 ms, so "offline" may last a few ms only:
    // every state the top bar takes is recorded, and the test waits for offline, then connected.
    await alice.evaluate(() => {
      const conn = document.querySelector('#conn');
      window.__states = [];
      new MutationObserver((records) => {
        for (const r of records) window.__states.push(r.oldValue);
        window.__states.push(conn.dataset.state);
      }).observe(conn, { attributes: true, attributeFilter: ['data-state'], attributeOldValue: true });
      window.__lastWs.close(4000, 'test');
    });
    await alice.waitForFunction(() => window.__states.includes('offline'));
    await alice.evaluate(() => { const b = document.querySelector('#retry-now'); if (!b.hidden) b.click(); });
    await alice.waitForFunction(() => {
      const s = window.__states;
      return s.slice(s.indexOf('offline')).includes('connected') && document.querySelector('#conn').dataset.state === 'connected';
    }, null, { timeout: 15000 });
    // A second tab of the same browser: the same person, not "Alice2", no join notice.
    tab2 = await alice.context().newPage();
    await tab2.goto(`${srv.url}/#steady`);
    await waitConnected(tab2);
    assert.equal(await tab2.locator('#nick-input').inputValue(), 'Ana');
    await waitMembers(tab2, ['Ana', 'Ben']);
    await say(tab2, 'from the second tab');
    await waitMessage(bob, 'from the second tab');
    await tab2.close();
    tab2 = null;

    await sleep(GRACE_MS + 500);
    assert.deepEqual(await presence(bob, 'Ana'), ['Ana joined the chat'], 'presence flapped');
    await waitMembers(bob, ['Ana', 'Ben']);

    // Gone for good: the leave comes once the grace period is over.
    const closedAt = Date.now();
    await closePage(alice);
    await bob.locator('.log > .sys', { hasText: 'Ana left' }).waitFor({ timeout: GRACE_MS + 5000 });
    assert.ok(Date.now() - closedAt >= GRACE_MS - 200, 'the leave came before the grace period ended');
    await waitMembers(bob, ['Ben']);
  } finally {
    if (tab2) await tab2.close();
    await closePage(alice);
    await closePage(bob);
  }
});
