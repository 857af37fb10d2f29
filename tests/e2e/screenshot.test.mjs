// A screenshot of the client with a few messages and two members, 1280x800.
// Written to docs/screenshot.png when UPDATE_SCREENSHOT=1, else to a temporary file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitMembers, pluginsBuilt, ROOT,
} from './helpers.mjs';

// With the plugins built, the picture also shows a typing indicator and a private message.
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

test('screenshot at 1280x800 with a conversation', async () => {
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'general' });
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'general' });
  try {
    await waitMembers(alice, ['Alice', 'Bob']);
    const lines = [
      [bob, 'Morning! Did the new build land?'],
      [alice, 'Yes, chatd is up on the staging box since 9.'],
      [alice, 'Reconnects are smooth now, try killing it.'],
      [bob, 'Nice. I will run the soak test after lunch.'],
      [alice, 'Ping me if the p99 goes above 50 ms.'],
    ];
    for (const [page, text] of lines) {
      await say(page, text);
      await waitMessage(alice, text);
    }
    if (RICH) {
      await say(bob, '/msg alice the staging password is in the vault');
      await alice.locator('.log > .msg.private').waitFor();
      await bob.type('#msg-input', 'On it');
      await alice.locator('#typing', { hasText: 'Bob is typing…' }).waitFor();
    }
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
  }
});
