// Names and presence: a first visit asks for a name before connecting (the room never
// sees "guest-1329 joined ... guest-1329 is now known as Alice"); the name is remembered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
  waitConnected, sleep,
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
