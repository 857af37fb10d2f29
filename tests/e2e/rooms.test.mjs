// The rooms that exist: a browsable directory of the rooms that have people in them, with
// member counts, biggest first, unlisted rooms left out; joining from it keeps the other
// rooms; the server's room limit is explained.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
} from './helpers.mjs';

let srv;
let browser;

before(async () => {
  srv = await startChatd({ config: (port) => `[server]\nport = ${port}\nunlisted_rooms = staff-*\nmax_rooms_per_client = 3\n` });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

const directory = (page) => page.$$eval('#browse-list .dir-room', (els) => els.map((e) => [
  e.querySelector('.dir-name').textContent, e.querySelector('.dir-count').textContent, e.querySelector('.dir-join').textContent,
]));

test('the room directory lists rooms with their member counts; unlisted rooms stay out', async () => {
  const pages = [];
  try {
    for (const [name, room] of [['Ava', 'big'], ['Bo', 'big'], ['Cy', 'big'], ['Di', 'small'], ['Ed', 'staff-only']]) {
      pages.push(await openClient(browser, srv, { name, room }));
    }
    const me = await openClient(browser, srv, { name: 'Fay', room: 'small' });
    pages.push(me);
    await waitMembers(me, ['Di', 'Fay']);

    await me.click('#browse-btn');
    await me.locator('#browse-dialog').waitFor({ state: 'visible' });
    await me.locator('#browse-list .dir-room').nth(1).waitFor();
    assert.deepEqual(await directory(me), [['# big', '3 members', 'Join'], ['# small', '2 members', 'Open']]);
    assert.equal(await me.locator('#browse-status').textContent(), '2 rooms:');

    // Join from the directory: the dialog closes, the room is shown, the other one kept.
    await me.click('#browse-list .dir-room[data-room="big"] .dir-join');
    await me.locator('#browse-dialog').waitFor({ state: 'hidden' });
    await me.waitForFunction(() => document.querySelector('#room-title').textContent === 'big');
    await waitMembers(me, ['Ava', 'Bo', 'Cy', 'Fay']);
    await say(pages[3], 'still here, Fay?');
    await me.locator('#room-list li[data-key="#small"] .badge').waitFor();

    // /rooms opens it too, with the new count; an unlisted room works for whoever knows its name.
    await me.fill('#msg-input', '/rooms');
    await me.press('#msg-input', 'Enter');
    await me.locator('#browse-list .dir-room', { hasText: '4 members' }).waitFor();
    assert.deepEqual((await directory(me))[0], ['# big', '4 members', 'Open']);
    await me.keyboard.press('Escape');
    await me.locator('#browse-dialog').waitFor({ state: 'hidden' });
    await me.fill('#join-input', 'staff-only');
    await me.press('#join-input', 'Enter');
    await waitMembers(me, ['Ed', 'Fay']);
    await say(me, 'found it');
    await waitMessage(pages[4], 'found it');

    // A fourth room is over this server's max_rooms_per_client = 3: said plainly, and the list stays as it was.
    await me.fill('#join-input', 'one-too-many');
    await me.press('#join-input', 'Enter');
    await me.locator('.notice[data-code="too_many_rooms"]', { hasText: 'Leave one before joining another' }).waitFor();
    await me.waitForFunction(() => document.querySelectorAll('#room-list > li').length === 3);
    assert.deepEqual(await me.$$eval('#room-list .room-link', (els) => els.map((e) => e.textContent)), ['# small', '# big', '# staff-only']);
    assert.equal(await me.locator('#conn').getAttribute('data-state'), 'connected');
  } finally {
    for (const p of pages) await closePage(p);
  }
});
