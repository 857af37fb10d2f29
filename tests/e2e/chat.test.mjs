// Core chat features of the bundled client against a real chatd: two people chatting,
// own messages styled apart, room switching on one socket, the member list, renames, errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitMembers, waitConnected, badge, waitBadge, sleep,
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

test('two people chat in one room; own messages look different', async () => {
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'lobby' });
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'lobby' });
  try {
    await waitMembers(alice, ['Alice', 'Bob']);
    await say(alice, 'hello from alice');
    await say(bob, 'hi alice, bob here');

    const aliceOwn = await waitMessage(alice, 'hello from alice');
    const bobSeesAlice = await waitMessage(bob, 'hello from alice');
    const aliceSeesBob = await waitMessage(alice, 'hi alice, bob here');
    await waitMessage(bob, 'hi alice, bob here');

    assert.match(await aliceOwn.getAttribute('class'), /\bown\b/);
    assert.doesNotMatch(await bobSeesAlice.getAttribute('class'), /\bown\b/);
    assert.doesNotMatch(await aliceSeesBob.getAttribute('class'), /\bown\b/);
    const bg = (loc) => loc.evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.notEqual(await bg(aliceOwn), await bg(aliceSeesBob), 'own and other rows share a background');

    // The echo replaced the pending row: it carries the server id, and nothing is left pending.
    assert.match(await aliceOwn.getAttribute('data-id'), /^\d+$/);
    assert.equal(await alice.locator('.log > .pending').count(), 0);
    // Author names and HH:MM times with the full date in the title.
    assert.equal(await bobSeesAlice.locator('.author').textContent(), 'Alice');
    assert.match(await bobSeesAlice.locator('time').textContent(), /^\d\d:\d\d$/);
    assert.ok((await bobSeesAlice.locator('time').getAttribute('title')).length > 5);
    // The same id is never shown twice.
    const ids = await alice.$$eval('.log > [data-id]', (els) => els.map((e) => e.dataset.id));
    assert.equal(new Set(ids).size, ids.length);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('many rooms at once on one socket: joining keeps the others, each room its own log, members and unread count', async () => {
  const alice = await openClient(browser, srv, { name: 'Ann', room: 'roomA' });
  const bob = await openClient(browser, srv, { name: 'Ben', room: 'roomA' });
  const carol = await openClient(browser, srv, { name: 'Cat', room: 'roomB' });
  try {
    await alice.evaluate(() => { window.__noReload = true; });
    await say(alice, 'first in A');
    await waitMessage(bob, 'first in A');

    // Join a second room from the sidebar form: shown at once, the first one kept.
    await alice.fill('#join-input', 'roomB');
    await alice.press('#join-input', 'Enter');
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'roomb');
    assert.equal(new URL(alice.url()).hash, '#roomb');
    await waitMembers(alice, ['Ann', 'Cat']);
    await say(alice, 'only in B');
    await waitMessage(carol, 'only in B');

    // Still in roomA: Ben sees no leave, and Ann gets roomA's messages as an unread count.
    await waitMembers(bob, ['Ann', 'Ben']);
    assert.equal(await bob.locator('.log > .sys', { hasText: /Ann left/ }).count(), 0, 'joining roomB left roomA');
    await say(bob, 'only in A');
    await waitBadge(alice, '#rooma', '1');
    assert.equal(await alice.title(), '(1) #roomb · chatd');
    assert.equal(await alice.locator('.log > .msg', { hasText: 'only in A' }).count(), 0, 'a roomA message shown in roomB');
    assert.equal(await bob.locator('.log > .msg', { hasText: 'only in B' }).count(), 0, 'a roomB message reached roomA');

    // The room list marks the room shown.
    assert.match(await alice.$eval('#room-list [aria-current="page"]', (e) => e.textContent), /roomb/);
    assert.deepEqual(await alice.$$eval('#room-list .room-link', (els) => els.map((e) => e.textContent.replace(/^#\s*/, ''))), ['rooma', 'roomb']);

    // Back to roomA through the URL: what came meanwhile is there, below the divider, and read.
    await alice.evaluate(() => { location.hash = '#roomA'; });
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'rooma');
    await waitMessage(alice, 'only in A');
    await waitBadge(alice, '#rooma', '');
    assert.equal(await alice.title(), '#rooma · chatd');
    assert.equal(await alice.$eval('.log > .divider', (d) => d.nextElementSibling.querySelector('.text').textContent), 'only in A');
    await waitMembers(alice, ['Ann', 'Ben']);
    await say(bob, 'welcome back');
    await waitMessage(alice, 'welcome back');
    assert.equal(await alice.locator('.log > .msg', { hasText: 'only in B' }).count(), 0);
    assert.equal(await alice.evaluate(() => window.__noReload), true, 'the page reloaded');
    assert.equal(await alice.evaluate(() => window.__wsCount), 1, 'a room opened a new WebSocket');

    // Leaving roomB (its × in the list) tells roomB, and only roomB.
    await alice.hover('#room-list li[data-key="#roomb"]');
    assert.equal(await alice.getAttribute('#room-list li[data-key="#roomb"] .room-remove', 'aria-label'), 'Leave #roomb');
    await alice.click('#room-list li[data-key="#roomb"] .room-remove');
    await carol.locator('.log > .sys', { hasText: /Ann left/ }).waitFor();
    await waitMembers(carol, ['Cat']);
    assert.deepEqual(await alice.$$eval('#room-list .room-link', (els) => els.map((e) => e.textContent.replace(/^#\s*/, ''))), ['rooma']);
    await say(carol, 'after Ann left');
    await waitMessage(carol, 'after Ann left');
    await sleep(200);
    assert.equal(await badge(alice, '#roomb'), '');
    assert.equal(await alice.locator('#room-list li[data-key="#roomb"]').count(), 0);
    assert.equal(await bob.locator('.log > .sys', { hasText: /Ann left/ }).count(), 0);

    // An invalid room name is refused in the UI with a reason, and nothing is sent.
    await alice.fill('#join-input', 'bad room!');
    await alice.press('#join-input', 'Enter');
    const why = await alice.locator('#join-error').textContent();
    assert.match(why, /letters, digits/);
    assert.equal(await alice.locator('#room-title').textContent(), 'rooma');
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(carol);
  }
});

test('member list follows join, rename and leave', async () => {
  const alice = await openClient(browser, srv, { name: 'Amy', room: 'people' });
  try {
    await waitMembers(alice, ['Amy']);
    const carol = await openClient(browser, srv, { name: 'Carol', room: 'people' });
    await waitMembers(alice, ['Amy', 'Carol']);
    await alice.locator('.log > .sys', { hasText: 'Carol' }).first().waitFor();

    await carol.fill('#nick-input', 'Caroline');
    await carol.press('#nick-input', 'Enter');
    await waitMembers(alice, ['Amy', 'Caroline']);
    await waitMembers(carol, ['Amy', 'Caroline']);
    await carol.waitForFunction(() => document.querySelector('#nick-input').value === 'Caroline');
    // The own name is marked in the member list.
    assert.equal(await carol.$eval('#member-list .member.me .member-name', (e) => e.textContent), 'Caroline');

    // A new name being typed is kept while one more room is joined (its welcome names me too).
    await carol.fill('#nick-input', 'Caro');
    await carol.evaluate(() => { location.hash = '#people-two'; });
    await waitMembers(carol, ['Caroline']);
    assert.equal(await carol.locator('#nick-input').inputValue(), 'Caro', 'a welcome overwrote the name being typed');
    await carol.fill('#nick-input', 'Caroline');
    await carol.evaluate(() => { location.hash = '#people'; });
    await waitMembers(carol, ['Amy', 'Caroline']);

    // A message after the rename counts as own under the new name.
    await say(carol, 'renamed and talking');
    const row = await waitMessage(carol, 'renamed and talking');
    assert.match(await row.getAttribute('class'), /\bown\b/);
    assert.equal(await (await waitMessage(alice, 'renamed and talking')).locator('.author').textContent(), 'Caroline');

    await closePage(carol);
    await waitMembers(alice, ['Amy']);
    assert.match(await alice.locator('#people-count').textContent(), /1/);
  } finally {
    await closePage(alice);
  }
});

test('renaming to a taken name shows the variant the server gave', async () => {
  const dana = await openClient(browser, srv, { name: 'Dana', room: 'names' });
  const eve = await openClient(browser, srv, { name: 'Eve', room: 'names' });
  try {
    await say(eve, '/nick Dana');
    await eve.locator('.notice', { hasText: /Dana is taken; you are Dana\S+/ }).waitFor();
    const mine = await eve.locator('#nick-input').inputValue();
    assert.match(mine, /^Dana\S+$/, 'the own name comes from the server');
    assert.notEqual(mine, 'Dana');
    await waitMembers(dana, ['Dana', mine]);

    // Joining with a taken name: the welcome carries the variant.
    const dana2 = await openClient(browser, srv, { name: 'Dana', room: 'names' });
    await dana2.locator('.notice', { hasText: /Dana is taken; you are \S+/ }).waitFor();
    assert.notEqual(await dana2.locator('#nick-input').inputValue(), 'Dana');
    await closePage(dana2);
  } finally {
    await closePage(dana);
    await closePage(eve);
  }
});

test('error frames from the server are shown, not swallowed', async () => {
  const page = await openClient(browser, srv, { name: 'Errol', room: 'errors' });
  try {
    await page.evaluate(() => window.__lastWs.send(JSON.stringify({ type: 'no-such-frame-type' })));
    await page.locator('.notice[data-code="unknown_type"]', { hasText: 'does not support' }).waitFor();
    await page.evaluate(() => window.__lastWs.send('this is not json'));
    await page.locator('.notice[data-code="bad_request"]', { hasText: 'refused a request' }).waitFor();
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');

    // Typing for a while: without the typing plugin the client says so once, not per keystroke.
    for (let i = 0; i < 6; i++) { await page.type('#msg-input', 'abc'); await page.waitForTimeout(500); }
    const typingErrors = await page.locator('.notice.error', { hasText: 'typing' }).count();
    assert.equal(typingErrors, 0, 'typing refusals shown as errors');
    assert.ok(await page.locator('.notice', { hasText: 'typing indicators' }).count() <= 1);
  } finally {
    await closePage(page);
  }
});

test('one notice per kind, replaced not stacked, in plain sentences', async () => {
  const page = await openClient(browser, srv, { name: 'Nora', room: 'notices' });
  try {
    // Five refusals of one kind, then three of another, as fast as the socket goes.
    await page.evaluate(() => {
      for (let i = 0; i < 5; i++) window.__lastWs.send(JSON.stringify({ type: `nonsense-${i}` }));
      for (let i = 0; i < 3; i++) window.__lastWs.send(`not json ${i}`);
    });
    await page.locator('.notice[data-code="bad_request"]').waitFor();
    await page.waitForTimeout(300);
    const notices = await page.$$eval('#notices .notice', (els) => els.map((e) => ({
      code: e.dataset.code, text: e.querySelector('.notice-text').textContent,
    })));
    assert.deepEqual(notices.map((n) => n.code), ['unknown_type', 'bad_request'], JSON.stringify(notices));
    // The replaced notice says the latest refusal.
    assert.match(notices[0].text, /nonsense-4/);
    for (const { text } of notices) {
      assert.doesNotMatch(text, /\[[a-z_]+\]|\b(bad_request|unknown_type)\b/, `a code in the words: ${text}`);
      assert.match(text, /^[A-Z].*[.]$/, `not a sentence: ${text}`);
      const sentences = text.split(/(?<=\.) /);
      assert.equal(new Set(sentences).size, sentences.length, `repeats itself: ${text}`);
    }
    // A local notice of another kind (an unknown command) joins them; a second one replaces it.
    await say(page, '/frobnicate');
    await say(page, '/frobnicate2');
    await page.locator('.notice', { hasText: 'Unknown command /frobnicate2' }).waitFor();
    assert.equal(await page.locator('.notice', { hasText: 'Unknown command' }).count(), 1);
    // Dismissed, it is gone; the next one of its kind comes back alone.
    await page.locator('.notice', { hasText: 'Unknown command' }).locator('.notice-close').click();
    assert.equal(await page.locator('.notice', { hasText: 'Unknown command' }).count(), 0);
    await say(page, '/frobnicate3');
    assert.equal(await page.locator('.notice', { hasText: 'Unknown command' }).count(), 1);
  } finally {
    await closePage(page);
  }
});

test('room names are case-insensitive: the client joins the lower-case room and says so', async () => {
  const alice = await openClient(browser, srv, { name: 'Lou', room: 'general' });
  let bob;
  try {
    await say(alice, '/join Lounge');
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'lounge');
    await alice.locator('.notice.info', { hasText: '“Lounge” is #lounge' }).waitFor();
    assert.equal(new URL(alice.url()).hash, '#lounge');
    // The form says so too, and a link or a typed name in another case is the same room.
    await alice.fill('#join-input', 'LOUNGE');
    await alice.press('#join-input', 'Enter');
    await alice.locator('.notice.info', { hasText: '“LOUNGE” is #lounge' }).waitFor();
    bob = await openClient(browser, srv, { name: 'Bo', room: 'LoUnGe' });
    await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'lounge');
    assert.equal(new URL(bob.url()).hash, '#lounge');
    await waitMembers(alice, ['Lou', 'Bo']);
    await say(bob, 'same room whatever the case');
    await waitMessage(alice, 'same room whatever the case');
    const rooms = await alice.$$eval('#room-list .room-link', (els) => els.map((e) => e.textContent.replace(/^#\s*/, '')));
    assert.deepEqual(rooms.sort(), ['general', 'lounge']);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('the byte counter shows the server limit and blocks oversize messages', async (t) => {
  const page = await openClient(browser, srv, { name: 'Max', room: 'limits' });
  try {
    const counter = await page.locator('#byte-counter').textContent();
    const m = counter.match(/\/\s*(\d+)/);
    if (!m) { t.skip('welcome carries no limits.max_message_bytes'); return; }
    const max = Number(m[1]);
    await page.fill('#msg-input', 'é'.repeat(Math.ceil(max / 2) + 1));   // 2 bytes each: just over the limit
    await page.locator('#byte-counter.over').waitFor();
    assert.equal(await page.locator('#send-btn').isDisabled(), true);
    await page.press('#msg-input', 'Enter');
    await page.locator('.notice', { hasText: 'the limit is' }).waitFor();
    assert.equal(await page.locator('.log > .msg').count(), 0, 'an oversize message was sent');
  } finally {
    await closePage(page);
  }
});

test('local commands: /help lists commands, unknown ones are explained', async () => {
  const page = await openClient(browser, srv, { name: 'Helga', room: 'cmds' });
  try {
    await say(page, '/help');
    await page.locator('.log > .sys', { hasText: '/msg NAME TEXT' }).waitFor();
    await say(page, '/frobnicate');
    await page.locator('.notice', { hasText: 'Unknown command /frobnicate' }).waitFor();
    assert.equal(await page.locator('#msg-input').inputValue(), '/frobnicate', 'the input was lost');
    await page.fill('#msg-input', '/join other-room');
    await page.press('#msg-input', 'Enter');
    await page.waitForFunction(() => document.querySelector('#room-title').textContent === 'other-room');
    await waitMembers(page, ['Helga']);   // the new welcome arrived on the same socket
    assert.equal(await page.evaluate(() => window.__wsCount), 1);
  } finally {
    await closePage(page);
  }
});
