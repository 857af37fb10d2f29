// The search box: the history plugin's full-text search over the room shown, results in
// a panel; a result that is loaded is shown in the conversation. Without the plugin the
// box says the server cannot search.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers, pluginsBuilt,
} from './helpers.mjs';

const HAVE = pluginsBuilt('history');
let srv;
let plain;
let browser;

before(async () => {
  browser = await launchBrowser();
  if (HAVE) srv = await startChatd({ config: (port) => `[server]\nport = ${port}\n\n[plugin history]\nreplay = 50\n` });
  plain = await startChatd();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
  await stopChatd(plain);
  cleanupChatd(plain);
});

test('search finds the room\'s messages and shows a result in place', { skip: HAVE ? false : 'history plugin not built' }, async () => {
  const alice = await openClient(browser, srv, { name: 'Sara', room: 'haystack' });
  const bob = await openClient(browser, srv, { name: 'Seb', room: 'haystack', viewport: { width: 1280, height: 500 } });
  const other = await openClient(browser, srv, { name: 'Otto', room: 'elsewhere' });
  try {
    await waitMembers(bob, ['Sara', 'Seb']);
    await say(other, 'a needle in another room');
    await waitMessage(other, 'a needle in another room');
    await say(alice, 'the first needle is here');
    for (let i = 0; i < 20; i++) await say(alice, `hay ${i}`);
    await say(alice, "don't lose the NEEDLE's eye");
    await waitMessage(bob, "don't lose the NEEDLE's eye");

    await bob.fill('#search-input', 'needle');
    await bob.press('#search-input', 'Enter');
    const panel = bob.locator('#search-panel');
    await panel.locator('.msg').nth(1).waitFor();
    assert.equal(await bob.locator('#search-summary').textContent(), '2 messages in #haystack match “needle”.');
    assert.deepEqual(await panel.locator('.msg .text').allTextContents(), ["don't lose the NEEDLE's eye", 'the first needle is here']);

    // Punctuation is no query syntax.
    await bob.fill('#search-input', "don't");
    await bob.press('#search-input', 'Enter');
    await bob.locator('#search-summary', { hasText: '1 message in #haystack matches “don\'t”.' }).waitFor();
    assert.equal(await bob.locator('.notice.error').count(), 0);

    // A result is shown in the conversation, which no longer follows the bottom.
    await bob.fill('#search-input', 'first');
    await bob.press('#search-input', 'Enter');
    await panel.locator('.msg', { hasText: 'the first needle is here' }).click();
    await panel.waitFor({ state: 'hidden' });
    const row = bob.locator('#log-holder .msg.flash', { hasText: 'the first needle is here' });
    await row.waitFor();
    assert.ok(await row.isVisible());
    assert.ok(await row.evaluate((e) => {
      const r = e.getBoundingClientRect();
      const s = document.querySelector('#scroller').getBoundingClientRect();
      return r.top >= s.top && r.bottom <= s.bottom;
    }), 'the result is not in view');

    await bob.fill('#search-input', 'nothing-like-this');
    await bob.press('#search-input', 'Enter');
    await bob.locator('#search-summary', { hasText: 'No messages in #haystack match “nothing-like-this”.' }).waitFor();
    await bob.click('#search-close');
    await panel.waitFor({ state: 'hidden' });
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(other);
  }
});

test('without the history plugin the search box says the server cannot search', async () => {
  const page = await openClient(browser, plain, { name: 'Ned', room: 'nohist' });
  try {
    await page.fill('#search-input', 'anything');
    await page.press('#search-input', 'Enter');
    await page.locator('#search-summary', { hasText: 'This server cannot search' }).waitFor();
    assert.equal(await page.locator('.notice.error').count(), 0);
  } finally {
    await closePage(page);
  }
});
