// Read positions kept by the server (history plugin) for a person (name + session): reading
// in one tab clears the others, a reload keeps the counts and the divider; direct messages
// are stored privately and come back after a reload, with their unread counts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
  waitConnected, waitBadge, badge, setAttention, pluginsBuilt, sleep,
} from './helpers.mjs';

const HAVE = pluginsBuilt('history', 'privmsg');
const skip = HAVE ? false : 'history or privmsg plugin not built';
let srv;
let browser;

before(async () => {
  if (!HAVE) return;
  srv = await startChatd({ config: (port) => `[server]\nport = ${port}\n\n[plugin privmsg]\n\n[plugin history]\nreplay = 50\n` });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

const show = async (page, hash, title) => {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((t) => document.querySelector('#room-title').textContent === t, title);
};
/** The accessible name of a conversation's sidebar link: "# sync, 3 unread, 1 mention". */
const linkName = (page, key) => page.$eval(`li[data-key="${key}"] .room-link`, (a) => a.getAttribute('aria-label') || a.textContent);
const afterDivider = (page) => page.$$eval('.log > .divider', (ds) => ds.map((d) => d.nextElementSibling?.querySelector('.text')?.textContent ?? null));

test('reading in one tab clears the others; a reload keeps the counts and the divider', { skip }, async () => {
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'sync' });
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'sync' });
  let tab2;
  try {
    await say(alice, '/join side');
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'side');
    // A mention is the name as a whole word in any case: "malice" is none, "ALICE," is one.
    for (const t of ['one', 'malice is no mention', 'ALICE, three']) await say(bob, t);
    await waitBadge(alice, '#sync', '3');
    assert.equal(await alice.locator('#room-list li[data-key="#sync"] .badge.mention').count(), 1);
    assert.equal(await linkName(alice, '#sync'), '# sync, 3 unread, 1 mention');

    // A second tab of the same browser is the same person: the server says what is unread.
    tab2 = await alice.context().newPage();
    await tab2.goto(`${srv.url}/#side`);
    await waitConnected(tab2);
    await waitBadge(tab2, '#sync', '3');
    assert.equal(await linkName(tab2, '#sync'), '# sync, 3 unread, 1 mention');
    // Reading there clears the first tab too.
    await show(tab2, '#sync', 'sync');
    await waitMessage(tab2, 'alice, three');
    assert.deepEqual(await afterDivider(tab2), ['one']);
    await waitBadge(alice, '#sync', '');
    await alice.waitForFunction(() => document.title === '#side · chatd');

    // Both tabs away from #sync; two more messages; a reload still knows they are unread.
    await show(tab2, '#side', 'side');
    for (const t of ['four', 'five, Alice']) await say(bob, t);
    await waitBadge(alice, '#sync', '2');
    await alice.reload();
    await waitConnected(alice);
    await waitBadge(alice, '#sync', '2');
    assert.equal(await linkName(alice, '#sync'), '# sync, 2 unread, 1 mention', 'the counts after a reload');
    await alice.waitForFunction(() => document.title === '(2) #side · chatd');
    await show(alice, '#sync', 'sync');
    await waitMessage(alice, 'five, Alice');
    assert.deepEqual(await afterDivider(alice), ['four'], 'the divider after a reload');
    await waitBadge(tab2, '#sync', '');

    // A hidden tab reads nothing, and tells nobody it did.
    await setAttention(alice, { hidden: true });
    await say(bob, 'six');
    await waitBadge(alice, '#sync', '1');
    await sleep(500);
    assert.equal(await badge(tab2, '#sync'), '1');
  } finally {
    if (tab2) await tab2.close();
    await closePage(alice);
    await closePage(bob);
  }
});

test('direct messages survive a reload, with their unread count, for the two people only', { skip }, async () => {
  const alice = await openClient(browser, srv, { name: 'Ada', room: 'dm-room' });
  const bob = await openClient(browser, srv, { name: 'Bert', room: 'dm-room' });
  let eve;
  try {
    await waitMembers(bob, ['Ada', 'Bert']);
    await say(bob, '/msg ada first secret');
    await bob.locator('.log > .msg.private:not(.pending)', { hasText: 'first secret' }).waitFor();
    await say(bob, 'second secret');   // typed in the conversation it opened
    await bob.locator('.log > .msg.private:not(.pending)', { hasText: 'second secret' }).waitFor();
    await waitBadge(alice, '@bert', '2');
    assert.equal(await linkName(alice, '@bert'), 'Bert, 2 unread, 2 mentions', 'every direct message counts as a mention');

    // Reloaded: the conversation and its count come back; opening it loads the stored messages.
    await alice.reload();
    await waitConnected(alice);
    await waitBadge(alice, '@bert', '2');
    assert.equal(await linkName(alice, '@bert'), 'Bert, 2 unread, 2 mentions');
    await alice.waitForFunction(() => document.title === '(2) #dm-room · chatd');
    await alice.click('#dm-list li[data-key="@bert"] .room-link');
    await waitMessage(alice, 'second secret');
    assert.deepEqual(await alice.$$eval('.log > .msg .text', (els) => els.map((e) => e.textContent)), ['first secret', 'second secret']);
    assert.deepEqual(await afterDivider(alice), ['first secret']);
    await waitBadge(alice, '@bert', '');
    await say(alice, 'got them');
    await waitMessage(alice, 'got them');

    // Read: after another reload nothing is unread, and the whole conversation is there.
    await alice.reload();
    await waitConnected(alice);
    await alice.locator('#dm-list li[data-key="@bert"]').waitFor();
    await sleep(300);
    assert.equal(await badge(alice, '@bert'), '');
    // The last view was the conversation: the reload opens it again, loaded from the server.
    await waitMessage(alice, 'got them');
    assert.equal(await alice.locator('#room-title').textContent(), 'Bert');
    assert.equal(await alice.title(), 'Bert · chatd');
    assert.deepEqual(await alice.$$eval('.log > .msg .text', (els) => els.map((e) => e.textContent)), ['first secret', 'second secret', 'got them']);
    assert.deepEqual(await afterDivider(alice), [], 'a divider with nothing unread');
    // Bob's side, reloaded too.
    await bob.reload();
    await waitConnected(bob);
    await waitMessage(bob, 'got them');

    // Somebody else never sees any of it.
    eve = await openClient(browser, srv, { name: 'Eve', room: 'dm-room' });
    await sleep(500);
    assert.equal(await eve.locator('#dm-list > li').count(), 0);
    assert.equal(await eve.locator('.log > .msg', { hasText: /secret|got them/ }).count(), 0);
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(eve);
  }
});
