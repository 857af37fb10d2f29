// The README picture (docs/screenshot.png, 1280x800): Alice in #general while the other
// rooms she is in fill up: unread counts in the sidebar, a mention marked, a direct
// message waiting, links and code in the conversation, someone typing.
// Written to docs/screenshot.png when UPDATE_SCREENSHOT=1, else to a temporary file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitMembers, waitBadge, pluginsBuilt, ROOT,
} from './helpers.mjs';

// With the plugins built, the picture also shows a typing indicator and a direct message.
const RICH = pluginsBuilt('typing', 'privmsg', 'history');

let srv;
let browser;

before(async () => {
  srv = await startChatd(RICH
    ? { config: (port) => `[server]\nport = ${port}\n\n[plugin typing]\n\n[plugin privmsg]\n\n[plugin history]\n` }
    : {});
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

/** Joins rooms one after the other (each join shows the room), then shows `back`. */
async function joinAll(page, rooms, back) {
  for (const r of rooms) {
    await say(page, `/join ${r}`);
    await page.waitForFunction((x) => document.querySelector('#room-title').textContent === x, r);
  }
  await page.evaluate((x) => { location.hash = `#${x}`; }, back);
  await page.waitForFunction((x) => document.querySelector('#room-title').textContent === x, back);
}

test('screenshot at 1280x800: several rooms with unread counts', async () => {
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'general' });
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'general' });
  const carol = await openClient(browser, srv, { name: 'Carol', room: 'design' });
  try {
    await joinAll(alice, ['random', 'deploys', 'design'], 'general');
    await joinAll(bob, ['random', 'deploys'], 'general');
    await waitMembers(alice, ['Alice', 'Bob']);
    const lines = [
      [bob, 'Morning! Did the new build land?'],
      [alice, 'Yes, chatd is up on the staging box since 9. Runbook: https://wiki.example.org/chatd/staging'],
      [alice, 'Reconnects are smooth now, try `kill -9` on it.'],
      [bob, 'Nice. I will run the soak test after lunch:\n```\nbench/run.sh --quick\n```'],
      [alice, 'Ping me if the p99 goes above 50 ms.'],
    ];
    for (const [page, text] of lines) {
      await say(page, text);
      await waitMessage(alice, text.split('\n')[0].replace(/`/g, '').slice(0, 20));
    }
    // Meanwhile, in the other rooms.
    await bob.evaluate(() => { location.hash = '#random'; });
    await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'random');
    for (const t of ['Anyone for coffee?', 'The new espresso machine is in', 'Third floor kitchen']) await say(bob, t);
    await bob.evaluate(() => { location.hash = '#deploys'; });
    await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'deploys');
    await say(bob, 'alice, the 2.3 rollout is green: https://ci.example.org/run/4821');
    for (const t of ['New icons are up for review', 'Feedback welcome before Friday']) await say(carol, t);
    await waitBadge(alice, '#random', '3');
    await waitBadge(alice, '#deploys', '1');
    await waitBadge(alice, '#design', '2');
    if (RICH) {
      await say(carol, '/msg alice can we pair on the sidebar tomorrow?');
      await waitBadge(alice, '@carol', '1');
      await bob.evaluate(() => { location.hash = '#general'; });
      await bob.waitForFunction(() => document.querySelector('#room-title').textContent === 'general');
      await bob.type('#msg-input', 'On it');
      await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
    }
    assert.match(await alice.title(), /^\(\d+\) #general · chatd$/);
    await alice.fill('#msg-input', 'Sounds good');
    await alice.waitForTimeout(200);
    const out = process.env.UPDATE_SCREENSHOT === '1'
      ? path.join(ROOT, 'docs', 'screenshot.png')
      : path.join(os.tmpdir(), `chatd-screenshot-${process.pid}.png`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await alice.screenshot({ path: out });
    const png = fs.readFileSync(out);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.equal(png.readUInt32BE(16), 1280);
    assert.equal(png.readUInt32BE(20), 800);
    if (!out.startsWith(ROOT)) fs.rmSync(out);
  } finally {
    await closePage(alice);
    await closePage(bob);
    await closePage(carol);
  }
});
