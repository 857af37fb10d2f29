// Client features that need server plugins: typing indicators, private messages,
// history (replay, "load older", since= after a network drop) and rate limiting.
// Each test is skipped when its plugin is not built.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitMembers, waitConnected, pluginsBuilt, sleep, badge, waitBadge,
} from './helpers.mjs';

const HAVE = pluginsBuilt('typing', 'privmsg', 'history');
const HAVE_RL = pluginsBuilt('ratelimit');
const HAVE_ME = pluginsBuilt('me');
const skip = HAVE ? false : 'typing, privmsg or history plugin not built';

let srv;
let browser;

before(async () => {
  if (!HAVE && !HAVE_RL) return;
  browser = await launchBrowser();
  if (HAVE) {
    srv = await startChatd({
      config: (port) => `[server]\nport = ${port}\n\n[plugin typing]\n\n[plugin privmsg]\n\n${HAVE_ME ? '[plugin me]\n\n' : ''}[plugin history]\nreplay = 10\n`,
    });
  }
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

const rowsWithId = (page) => page.$$eval('.log > [data-id]', (els) => els.map((e) => Number(e.dataset.id)));

test('typing indicators: one, two, several; cleared by the message', { skip }, async () => {
  const pages = [];
  try {
    for (const name of ['Tom', 'Uma', 'Vic', 'Wes']) pages.push(await openClient(browser, srv, { name, room: 'typing' }));
    const [tom, uma, vic, wes] = pages;
    await waitMembers(tom, ['Tom', 'Uma', 'Vic', 'Wes']);
    const typing = () => tom.locator('#typing').textContent();
    await uma.type('#msg-input', 'hel');
    await tom.locator('#typing', { hasText: 'Uma is typing…' }).waitFor();
    assert.equal(await uma.locator('#typing').textContent(), '', 'own typing shown to oneself');
    // It expires about 3 s after the last typing frame.
    await tom.waitForFunction(() => document.querySelector('#typing').textContent === '', null, { timeout: 6000 });

    await Promise.all([vic.type('#msg-input', 'hi'), wes.type('#msg-input', 'yo')]);
    await tom.locator('#typing', { hasText: /^(Vic and Wes|Wes and Vic) are typing…$/ }).waitFor();
    await uma.type('#msg-input', 'lo');
    await tom.locator('#typing', { hasText: 'Several people are typing…' }).waitFor();
    // A message from Vic clears Vic at once.
    await vic.fill('#msg-input', 'hello from vic');
    await vic.press('#msg-input', 'Enter');
    await waitMessage(tom, 'hello from vic');
    assert.doesNotMatch(await typing(), /Vic/);
  } finally {
    for (const p of pages) await closePage(p);
  }
});

test('direct messages are conversations: in the sidebar with an unread count, never in a room', { skip }, async () => {
  const alice = await openClient(browser, srv, { name: 'Pia', room: 'pm-one' });
  const bob = await openClient(browser, srv, { name: 'Quinn', room: 'pm-two' });
  const carl = await openClient(browser, srv, { name: 'Rex', room: 'pm-one' });
  try {
    await waitMembers(alice, ['Pia', 'Rex']);
    await say(alice, '/msg quinn meet me at noon');
    // The sender is taken to the conversation; the row is confirmed by its echo, and from
    // then on the top bar spells the peer as the server does (it shows "quinn" until then).
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'Quinn');
    assert.equal(new URL(alice.url()).hash, '#@quinn');
    const echo = alice.locator('.log > .msg.private.own:not(.pending)', { hasText: 'meet me at noon' });
    await echo.waitFor();
    assert.equal(await echo.locator('.author').textContent(), 'Pia');
    assert.equal(await alice.locator('.log > .pending').count(), 0, 'the /msg stayed pending');

    // The receiver stays where they are: a DM entry with one unread (a mention), the title counts it.
    await waitBadge(bob, '@pia', '1');
    assert.match(await bob.locator('#dm-list .room.has-mention').textContent(), /Pia/);
    assert.equal(await bob.title(), '(1) #pm-two · chatd');
    assert.equal(await bob.locator('.log > .msg', { hasText: 'meet me at noon' }).count(), 0, 'a DM shown in a room');
    await bob.click('#dm-list .room-link');
    const got = await waitMessage(bob, 'meet me at noon');
    assert.equal(await got.locator('.author').textContent(), 'Pia');
    await waitBadge(bob, '@pia', '');
    await bob.waitForFunction(() => document.title === 'Pia · chatd');

    // An answer typed in the conversation goes back to Pia, who is looking at it: nothing unread.
    await say(bob, 'see you there');
    await waitMessage(alice, 'see you there');
    assert.equal(await badge(alice, '@quinn'), '');

    // Nobody else sees any of it, in a room or in the sidebar.
    await sleep(300);
    assert.equal(await carl.locator('.log > .msg', { hasText: /meet me|see you/ }).count(), 0, 'a DM leaked');
    assert.equal(await carl.locator('#dm-list > li').count(), 0);
    await alice.click('#room-list .room-link');
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'pm-one');
    assert.equal(await alice.locator('.log > .msg', { hasText: /meet me|see you/ }).count(), 0, 'a DM shown in a room');

    // To nobody: the conversation shows the refused message, the notice says why.
    await say(alice, '/msg nobody-here hello?');
    await alice.locator('.notice[data-code="no_such_user"]', { hasText: 'Nobody named nobody-here is connected' }).waitFor();
    const failed = alice.locator('.log > .msg.failed', { hasText: 'hello?' });
    await failed.waitFor();
    assert.equal(await failed.locator('.retry-btn').count(), 1);
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(carl);
  }
});

test('/me: the stock config\'s me plugin turns "/me waves" into an action', { skip: HAVE && HAVE_ME ? false : 'me, typing, privmsg or history plugin not built' }, async () => {
  const alice = await openClient(browser, srv, { name: 'Mae', room: 'actions' });
  const bob = await openClient(browser, srv, { name: 'Ned', room: 'actions' });
  try {
    await waitMembers(alice, ['Mae', 'Ned']);
    await say(alice, '/me waves at everyone');
    const seen = bob.locator('.log > .msg.action:not(.pending)', { hasText: '* Mae waves at everyone' });
    await seen.waitFor();
    assert.equal(await seen.locator('.text').textContent(), '* Mae waves at everyone');
    assert.equal(await seen.locator('.text').evaluate((e) => getComputedStyle(e).fontStyle), 'italic');
    await alice.locator('.log > .msg.action.own:not(.pending)', { hasText: '* Mae waves at everyone' }).waitFor();
    assert.equal(await alice.locator('.log > .pending').count(), 0);
    assert.equal(await alice.locator('.notice').count(), 0, 'the client refused /me');
    assert.equal(await alice.locator('#msg-input').inputValue(), '');
    // Without an action it explains itself and keeps the text.
    await say(alice, '/me');
    await alice.locator('.notice', { hasText: 'Usage: /me ACTION' }).waitFor();
    // /help lists it.
    await say(alice, '/help');
    await alice.locator('.log > .sys', { hasText: '/me ACTION' }).waitFor();
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('history: replay on join, "load older" prepends and keeps the place, no id twice', { skip }, async () => {
  const writer = await openClient(browser, srv, { name: 'Hal', room: 'archive' });
  let reader;
  try {
    // 35 messages straight over the socket (faster than typing them).
    await writer.evaluate(() => {
      for (let i = 1; i <= 35; i++) window.__lastWs.send(JSON.stringify({ type: 'message', text: `archived ${i}`, client_id: `x${i}` }));
    });
    await waitMessage(writer, 'archived 35');

    reader = await openClient(browser, srv, { name: 'Ida', room: 'archive', viewport: { width: 1280, height: 500 } });
    await waitMessage(reader, 'archived 35');
    assert.deepEqual(await rowsWithId(reader), Array.from({ length: 10 }, (_, i) => 26 + i), 'replay of the last 10');
    const older = reader.locator('#load-older');
    await older.waitFor({ state: 'visible' });

    // Read from the top: the first shown row stays where it was after the prepend.
    await reader.evaluate(() => { document.querySelector('#scroller').scrollTop = 0; });
    const anchor = reader.locator('.log > [data-id="26"] .text');
    const yBefore = (await anchor.boundingBox()).y;
    await older.click();
    await waitMessage(reader, 'archived 1');
    const yAfter = (await anchor.boundingBox()).y;
    assert.ok(Math.abs(yAfter - yBefore) < 4, `the view jumped by ${yAfter - yBefore}px`);
    assert.deepEqual(await rowsWithId(reader), Array.from({ length: 35 }, (_, i) => i + 1));
    await older.waitFor({ state: 'hidden' });   // has_more: false

    // While reading old messages a new one does not yank the view: a jump button appears.
    await reader.evaluate(() => { document.querySelector('#scroller').scrollTop = 0; });
    await say(writer, 'fresh news');
    await waitMessage(reader, 'fresh news');
    assert.equal(await reader.evaluate(() => document.querySelector('#scroller').scrollTop), 0, 'the view was yanked down');
    await reader.locator('#jump-new').waitFor({ state: 'visible' });
    await reader.click('#jump-new');
    await waitMessage(reader, 'fresh news');
    assert.ok(await reader.evaluate(() => {
      const s = document.querySelector('#scroller');
      return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    }));
  } finally {
    await closePage(writer);
    await closePage(reader);
  }
});

test('a dropped connection resumes with since=: the missed messages, once each', { skip }, async () => {
  const alice = await openClient(browser, srv, { name: 'Sid', room: 'seam' });
  const bob = await openClient(browser, srv, { name: 'Tea', room: 'seam' });
  try {
    await say(bob, 'seen live');
    await waitMessage(alice, 'seen live');
    const urls = [];
    alice.on('websocket', (ws) => urls.push(ws.url()));
    // Cut alice's socket from the page; while she is away bob keeps talking.
    await alice.evaluate(() => {
      const Native = Object.getPrototypeOf(window.WebSocket);
      window.__hold = true;
      window.WebSocket = class extends Native {
        constructor(...args) {
          if (window.__hold) throw new DOMException('held offline by the test', 'SyntaxError');
          super(...args); window.__wsCount += 1; window.__lastWs = this;
        }
      };
      window.__lastWs.close(4000, 'test');
    });
    await alice.waitForSelector('#conn[data-state="offline"]');
    for (const t of ['missed one', 'missed two', 'missed three']) { await say(bob, t); await waitMessage(bob, t); }
    // Release; "Retry now" if the backoff timer has not already fired.
    await alice.evaluate(() => { window.__hold = false; const b = document.querySelector('#retry-now'); if (!b.hidden) b.click(); });
    await waitConnected(alice);
    await waitMessage(alice, 'missed three');
    for (const t of ['seen live', 'missed one', 'missed two', 'missed three']) {
      assert.equal(await alice.locator('.log > .msg', { hasText: t }).count(), 1, `"${t}" is not shown exactly once`);
    }
    assert.ok(urls.some((u) => /[?&]since=\d+/.test(u)), `no since= in ${JSON.stringify(urls)}`);
    const ids = await rowsWithId(alice);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('each room of the socket has its own typing, replay and since= recovery', { skip }, async () => {
  const alice = await openClient(browser, srv, { name: 'Tia', room: 'multi-a' });
  const bob = await openClient(browser, srv, { name: 'Uri', room: 'multi-a' });
  try {
    await say(bob, 'a before');
    await waitMessage(alice, 'a before');
    await say(alice, '/join multi-b');
    await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'multi-b');
    await bob.evaluate(() => { location.hash = '#multi-b'; });
    await waitMembers(alice, ['Tia', 'Uri']);
    await say(bob, 'b before');
    await waitMessage(alice, 'b before');

    // Typing is per room: Uri typing in multi-a is not shown in multi-b, and is in multi-a.
    await bob.evaluate(() => { location.hash = '#multi-a'; });
    await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'multi-a');
    await bob.type('#msg-input', 'typing in a');
    await alice.waitForTimeout(400);
    assert.equal(await alice.locator('#typing').textContent(), '', 'typing of multi-a shown in multi-b');
    await alice.evaluate(() => { location.hash = '#multi-a'; });
    await alice.locator('#typing', { hasText: 'Uri is typing…' }).waitFor();
    await bob.fill('#msg-input', '');

    // A dropped socket: each room resumes with its own since=, missed messages once each.
    const sent = [];
    alice.on('websocket', (ws) => { sent.push(ws.url()); ws.on('framesent', (f) => sent.push(String(f.payload))); });
    await alice.evaluate(() => {
      const Native = Object.getPrototypeOf(window.WebSocket);
      window.__hold = true;
      window.WebSocket = class extends Native {
        constructor(...args) {
          if (window.__hold) throw new DOMException('held offline by the test', 'SyntaxError');
          super(...args); window.__wsCount += 1; window.__lastWs = this;
        }
      };
      window.__lastWs.close(4000, 'test');
    });
    await alice.waitForSelector('#conn[data-state="offline"]');
    await say(bob, 'a missed');
    await waitMessage(bob, 'a missed');
    await bob.evaluate(() => { location.hash = '#multi-b'; });
    await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'multi-b');
    await say(bob, 'b missed');
    await waitMessage(bob, 'b missed');
    await say(bob, 'b missed too');
    await waitMessage(bob, 'b missed too');
    await alice.evaluate(() => { window.__hold = false; const b = document.querySelector('#retry-now'); if (!b.hidden) b.click(); });
    await waitConnected(alice);
    await waitMessage(alice, 'a missed');
    await alice.evaluate(() => { location.hash = '#multi-b'; });
    await waitMessage(alice, 'b missed');
    await waitMessage(alice, 'b missed too');
    for (const t of ['b before', 'b missed', 'b missed too']) {
      assert.equal(await alice.locator('.log > .msg .text', { hasText: new RegExp(`^${t}$`) }).count(), 1, `"${t}" not once`);
    }
    // Replayed into a room that was not shown: in id order all the same.
    const ids = await rowsWithId(alice);
    assert.deepEqual(ids, [...ids].sort((x, y) => x - y));
    await alice.evaluate(() => { location.hash = '#multi-a'; });
    for (const t of ['a before', 'a missed']) assert.equal(await alice.locator('.log > .msg', { hasText: t }).count(), 1, `"${t}" not once`);
    assert.ok(sent.some((x) => /\/ws\/multi-a\?.*multi=1.*since=\d+/.test(x)), `no since= for multi-a in ${JSON.stringify(sent)}`);
    assert.ok(sent.some((x) => { try { const f = JSON.parse(x); return f.type === 'join' && f.room === 'multi-b' && f.since > 0; } catch { return false; } }),
      `no join of multi-b with since in ${JSON.stringify(sent)}`);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('rate limiting: the notice says when to retry; the refused message can be retried', { skip: HAVE_RL ? false : 'ratelimit plugin not built' }, async () => {
  const rl = await startChatd({
    config: (port) => `[server]\nport = ${port}\n\n[plugin ratelimit]\nmessages_per_second = 1\nmessage_burst = 2\nflood_close_after = 50\n`,
  });
  // Six messages against a burst of two at one a second: at least two are refused unless the
  // server takes over three seconds to read six frames sent together (margin for a busy machine).
  const page = await openClient(browser, rl, { name: 'Fay', room: 'flood' });
  try {
    // Typed and sent in one go: every row is pending before the first echo comes back.
    await page.evaluate(() => {
      const input = document.querySelector('#msg-input');
      for (let i = 1; i <= 6; i++) { input.value = `burst ${i}`; document.querySelector('#composer').requestSubmit(); }
    });
    const n = page.locator('.notice[data-code="rate_limited"]');
    await n.waitFor();
    await page.locator('.log > .msg.failed').nth(1).waitFor();   // two refusals: one notice
    assert.equal(await n.count(), 1, 'rate limit notices stacked');
    assert.match(await n.locator('.notice-text').textContent(), /^You are sending too fast\. You can send again in \d+ seconds?\.$/);
    const failed = page.locator('.log > .msg.failed').first();
    await failed.waitFor();
    // Every refused message shows its state and its Retry (a grouped row hides its meta line).
    await page.locator('.log > .msg:not(.pending)', { hasText: 'burst 2' }).waitFor();
    for (const row of await page.locator('.log > .msg.failed').all()) {
      assert.equal(await row.locator('.retry-btn').isVisible(), true, 'a Retry button is hidden');
      assert.ok((await row.locator('.meta').boundingBox()).width > 100, 'the state and Retry of a refused message are clipped away');
    }
    // Retry is enabled when the server's retry_after_ms has passed, and then it goes through:
    // the step is timed by the server's answer, not by the test.
    const text = await failed.locator('.text').textContent();
    const retry = page.locator('.log > .msg.failed', { hasText: text }).locator('.retry-btn');
    await page.waitForFunction((t) => {
      const row = [...document.querySelectorAll('.log > .msg.failed')].find((r) => r.querySelector('.text').textContent === t);
      return row && !row.querySelector('.retry-btn').disabled;
    }, text, { timeout: 10000 });
    await retry.click();
    await waitMessage(page, text);   // a second refusal would leave the row failed: no echo
    assert.equal(await page.locator('#conn').getAttribute('data-state'), 'connected');
  } finally {
    await closePage(page);
    await stopChatd(rl);
    cleanupChatd(rl);
  }
});

test('history survives a server restart: replay, "load older" and ids that go on', { skip }, async () => {
  const config = (port) => `[server]\nport = ${port}\n\n[plugin history]\nreplay = 10\n`;
  let first = await startChatd({ config });
  const dataDir = first.dataDir;
  let second;
  let writer;
  let reader;
  try {
    writer = await openClient(browser, first, { name: 'Rex', room: 'kept' });
    await writer.evaluate(() => {
      for (let i = 1; i <= 30; i++) window.__lastWs.send(JSON.stringify({ type: 'message', text: `kept ${i}`, client_id: `k${i}` }));
    });
    await waitMessage(writer, 'kept 30');
    await closePage(writer);
    writer = null;
    await stopChatd(first);

    second = await startChatd({ config, dataDir });
    reader = await openClient(browser, second, { name: 'Sue', room: 'kept' });
    await waitMessage(reader, 'kept 30');
    assert.deepEqual(await rowsWithId(reader), Array.from({ length: 10 }, (_, i) => 21 + i), 'replay after the restart');
    await reader.locator('#load-older').click();
    await waitMessage(reader, 'kept 1');
    assert.deepEqual(await rowsWithId(reader), Array.from({ length: 30 }, (_, i) => i + 1), 'every id once, in order');
    await say(reader, 'after the restart');
    await waitMessage(reader, 'after the restart');
    const ids = await rowsWithId(reader);
    assert.equal(ids[ids.length - 1], 31, 'ids go on from the stored maximum');
  } finally {
    await closePage(writer);
    await closePage(reader);
    await stopChatd(second);
    cleanupChatd(second);
    cleanupChatd(first);
  }
});
