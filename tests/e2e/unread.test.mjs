// Unread state as people rely on it: a message is read only when its conversation is the
// open view of a visible, focused tab scrolled to the bottom; only other people's messages
// count; sending marks the room read; the count is in the sidebar and the tab title; the
// "new since you left" divider sits once above the first unread message and stays while
// you read; desktop notifications on mentions and DMs are opt-in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
  setAttention, badge, waitBadge, pluginsBuilt, sleep,
} from './helpers.mjs';

const HAVE_PM = pluginsBuilt('privmsg');
let srv;
let browser;

before(async () => {
  srv = await startChatd(HAVE_PM ? { config: (port) => `[server]\nport = ${port}\n\n[plugin privmsg]\n` } : {});
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

const title = (page) => page.title();
const waitTitle = (page, t) => page.waitForFunction((x) => document.title === x, t, { timeout: 10000 })
  .catch(async () => { throw new Error(`title is ${JSON.stringify(await page.title())}, expected ${JSON.stringify(t)}`); });
/** The texts of the rows right after the divider(s), one per divider. */
const afterDivider = (page) => page.$$eval('.log > .divider', (ds) => ds.map((d) => d.nextElementSibling?.querySelector('.text')?.textContent ?? null));

test('a hidden or unfocused tab reads nothing; title and sidebar count; the divider stays while you read', async () => {
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'lobby' });
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'lobby' });
  let carol;
  try {
    await waitMembers(bob, ['Alice', 'Bob']);
    await say(alice, 'before you left');
    await waitMessage(bob, 'before you left');
    assert.equal(await title(bob), '#lobby · chatd');

    await setAttention(bob, { hidden: true });
    for (const t of ['one', 'two', 'hey bob, three']) await say(alice, t);
    await waitMessage(bob, 'hey bob, three');
    await waitTitle(bob, '(3) #lobby · chatd');
    await waitBadge(bob, '#lobby', '3');
    assert.equal(await bob.locator('#room-list .room.has-mention').count(), 1, 'the mention is not marked');
    // A join and own messages do not count.
    carol = await openClient(browser, srv, { name: 'Carol', room: 'lobby' });
    await waitMembers(bob, ['Alice', 'Bob', 'Carol']);
    await sleep(200);
    assert.equal(await title(bob), '(3) #lobby · chatd');
    assert.deepEqual(await afterDivider(bob), [], 'a divider before the tab was looked at');

    // Looked at again: read at once, the divider above the first unread message.
    await setAttention(bob, { hidden: false, focused: true });
    await waitTitle(bob, '#lobby · chatd');
    await waitBadge(bob, '#lobby', '');
    assert.deepEqual(await afterDivider(bob), ['one']);
    assert.equal(await bob.locator('.log > .divider').textContent(), 'New since you left');
    // Reading on: new messages are read as they come; the divider stays where it is.
    await say(alice, 'four');
    await waitMessage(bob, 'four');
    await sleep(200);
    assert.equal(await title(bob), '#lobby · chatd');
    assert.deepEqual(await afterDivider(bob), ['one']);

    // Visible but not focused (another window in front): nothing is read either.
    await setAttention(bob, { focused: false });
    await say(alice, 'five');
    await waitTitle(bob, '(1) #lobby · chatd');
    await setAttention(bob, { focused: true });
    await waitTitle(bob, '#lobby · chatd');
    assert.deepEqual(await afterDivider(bob), ['five'], 'one divider, above the newest unread');

    // Sending marks the room read, even from a tab nobody looks at.
    await setAttention(bob, { hidden: true });
    await say(alice, 'six');
    await waitTitle(bob, '(1) #lobby · chatd');
    await say(bob, 'my answer');
    await waitMessage(bob, 'my answer');
    await waitTitle(bob, '#lobby · chatd');
    await waitBadge(bob, '#lobby', '');
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(carol);
  }
});

test('a tab scrolled up reads nothing until the bottom is reached', async () => {
  const alice = await openClient(browser, srv, { name: 'Ann', room: 'scrolly' });
  const bob = await openClient(browser, srv, { name: 'Bill', room: 'scrolly', viewport: { width: 1280, height: 420 } });
  try {
    await waitMembers(bob, ['Ann', 'Bill']);
    await alice.evaluate(() => {
      for (let i = 1; i <= 30; i++) window.__lastWs.send(JSON.stringify({ type: 'message', text: `line ${i}`, client_id: `s${i}` }));
    });
    await waitMessage(bob, 'line 30');
    await sleep(100);
    assert.equal(await title(bob), '#scrolly · chatd', 'read while at the bottom');
    await bob.evaluate(() => { document.querySelector('#scroller').scrollTop = 0; });
    await sleep(100);
    await say(alice, 'while you scroll');
    await waitMessage(bob, 'while you scroll');
    await waitTitle(bob, '(1) #scrolly · chatd');
    await bob.locator('#jump-new').waitFor({ state: 'visible' });
    await bob.click('#jump-new');
    await waitTitle(bob, '#scrolly · chatd');
    assert.deepEqual(await afterDivider(bob), ['while you scroll']);
    // Reading 31 messages sent nothing the server refuses (20 refusals in a row close the socket).
    for (const p of [alice, bob]) assert.equal(await p.locator('.log > .sys.warn').count(), 0, 'a connection was closed');
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

/** A stand-in for the browser's Notification: records what would be shown; the "user" answers `answer`. */
function fakeNotifications(answer) {
  return `(() => {
    window.__notes = [];
    window.__asked = 0;
    class FakeNotification extends EventTarget {
      constructor(title, options = {}) { super(); window.__notes.push({ title, body: options.body, tag: options.tag }); }
      close() {}
      static async requestPermission() {
        window.__asked += 1;
        FakeNotification.permission = ${JSON.stringify(answer)};
        localStorage.setItem('test.permission', FakeNotification.permission);   // the browser remembers the answer
        return FakeNotification.permission;
      }
    }
    FakeNotification.permission = localStorage.getItem('test.permission') || 'default';
    window.Notification = FakeNotification;
  })();`;
}

test('desktop notifications: opt-in, only for mentions and DMs the person is not looking at', async () => {
  const alice = await openClient(browser, srv, { name: 'Alma', room: 'notify' });
  const bob = await openClient(browser, srv, { name: 'Boris', room: 'notify', initScript: fakeNotifications('granted') });
  try {
    await waitMembers(bob, ['Alma', 'Boris']);
    // Off until asked for: a mention notifies nobody.
    await setAttention(bob, { hidden: true });
    await say(alice, 'boris, first ping');
    await waitMessage(bob, 'boris, first ping');
    await sleep(100);
    assert.deepEqual(await bob.evaluate(() => window.__notes), []);

    await setAttention(bob, { hidden: false, focused: true });
    await bob.check('#notify-input');
    await bob.waitForFunction(() => window.__asked === 1);
    assert.equal(await bob.isChecked('#notify-input'), true);

    await setAttention(bob, { hidden: true });
    for (const t of ['no name in this one', 'Borisov is someone else', 'BORIS: second ping']) await say(alice, t);
    await waitMessage(bob, 'BORIS: second ping');
    await sleep(100);
    assert.deepEqual(await bob.evaluate(() => window.__notes), [{ title: 'Alma in #notify', body: 'BORIS: second ping', tag: 'chatd:#notify' }]);
    if (HAVE_PM) {
      await say(alice, '/msg Boris just for you');
      await bob.waitForFunction(() => window.__notes.length === 2);
      assert.deepEqual((await bob.evaluate(() => window.__notes))[1], { title: 'Alma (direct message)', body: 'just for you', tag: 'chatd:@alma' });
      await alice.click('#room-list .room-link');   // /msg took Alma to the conversation: back to the room
      await alice.waitForFunction(() => document.querySelector('#room-title').textContent === 'notify');
    }
    // Looking at the room: a mention there is seen, not notified.
    await setAttention(bob, { hidden: false, focused: true });
    const before = (await bob.evaluate(() => window.__notes)).length;
    await say(alice, 'boris, you see this one');
    await waitMessage(bob, 'boris, you see this one');
    await sleep(100);
    assert.equal((await bob.evaluate(() => window.__notes)).length, before);
    // The choice is remembered.
    await bob.reload();
    await bob.waitForSelector('#conn[data-state="connected"]');
    assert.equal(await bob.isChecked('#notify-input'), true);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('notifications the browser refuses stay off, and the page says so', async () => {
  const page = await openClient(browser, srv, { name: 'Nils', room: 'notify2', initScript: fakeNotifications('denied') });
  try {
    await page.click('#notify-input');
    await page.locator('.notice.info', { hasText: 'did not allow notifications' }).waitFor();
    assert.equal(await page.isChecked('#notify-input'), false);
  } finally {
    await closePage(page);
  }
});

test('on a narrow screen the sidebar toggle carries the count of the other conversations', async () => {
  const phone = await openClient(browser, srv, { name: 'Pip', room: 'narrow-a', viewport: { width: 375, height: 740 } });
  const other = await openClient(browser, srv, { name: 'Oz', room: 'narrow-b' });
  try {
    await say(phone, '/join narrow-b');
    await phone.waitForFunction(() => document.querySelector('#room-title').textContent === 'narrow-b');
    await phone.evaluate(() => { location.hash = '#narrow-a'; });
    await phone.waitForFunction(() => document.querySelector('#room-title').textContent === 'narrow-a');
    assert.equal(await phone.getAttribute('#sidebar-toggle', 'data-unread'), null);
    for (const t of ['psst', 'over here']) await say(other, t);
    await phone.waitForFunction(() => document.querySelector('#sidebar-toggle').dataset.unread === '2');
    assert.equal(await phone.locator('#sidebar-toggle-label').textContent(), 'Rooms and people, 2 unread elsewhere');
    assert.equal(await phone.locator('#sidebar').isVisible(), false);
    await phone.click('#sidebar-toggle');
    await phone.click('#room-list li[data-key="#narrow-b"] .room-link');
    await waitMessage(phone, 'over here');
    await phone.waitForFunction(() => document.querySelector('#sidebar-toggle').dataset.unread === undefined);
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));
  } finally {
    await closePage(phone);
    await closePage(other);
  }
});

test('an idle tab (nothing touched for five minutes) reads nothing until it is used again', async () => {
  // The page's clock can be moved forward: window.__skip(ms).
  const clock = `(() => {
    let offset = 0;
    const now = Date.now.bind(Date);
    Date.now = () => now() + offset;
    window.__skip = (ms) => { offset += ms; };
  })();`;
  const alice = await openClient(browser, srv, { name: 'Ida', room: 'idle' });
  const bob = await openClient(browser, srv, { name: 'Ike', room: 'idle', initScript: clock });
  try {
    await waitMembers(bob, ['Ida', 'Ike']);
    await say(alice, 'while you are here');
    await waitMessage(bob, 'while you are here');
    await sleep(100);
    assert.equal(await title(bob), '#idle · chatd');
    await bob.evaluate(() => window.__skip(6 * 60 * 1000));   // six minutes without a key or the mouse
    await say(alice, 'are you still there?');
    await waitTitle(bob, '(1) #idle · chatd');
    await bob.mouse.move(200, 200);
    await bob.mouse.move(220, 240);
    await waitTitle(bob, '#idle · chatd');
    assert.deepEqual(await afterDivider(bob), ['are you still there?']);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});
