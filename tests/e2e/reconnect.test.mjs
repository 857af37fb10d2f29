// Reconnect: the server is killed (SIGKILL) and restarted on the same port. The client shows
// offline, then connected again; what was typed or sent while offline is not lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage,
  say, waitMessage, waitConnected, sleep,
} from './helpers.mjs';

let srv;
let browser;

/**
 * Waits until the page is offline and says so, both seen at one moment (the client flips
 * to "connecting" for each try, so the state and the words read one after the other
 * can disagree).
 */
async function waitOffline(page, timeout = 10000) {
  try {
    await page.waitForFunction(() => document.querySelector('#conn').dataset.state === 'offline'
      && /^Offline/.test(document.querySelector('#conn-text').textContent), null, { timeout, polling: 20 });
  } catch {
    throw new Error(`not offline: ${await page.locator('#conn').getAttribute('data-state')}, "${await page.locator('#conn-text').textContent()}"`);
  }
}

/**
 * The server is back: waits until the page reconnects by itself, which it must do no later
 * than the retry its top bar announces ("Offline — retrying in N s"; the backoff's ceiling
 * is 15 s), plus 15 s for the handshake and welcome on a busy machine.
 */
async function waitReconnected(page) {
  const words = await page.locator('#conn-text').textContent();
  // Not counting down (a try under way when the server came back): that try may still fail
  // and wait out a whole backoff ceiling.
  const m = words.match(/retrying in (\d+) s/);
  const due = m ? Number(m[1]) : 15;
  await waitConnected(page, (due + 15) * 1000);
}
const started = [];   // every instance, restarts included: each has a temp dir to remove

before(async () => {
  srv = await startChatd();
  started.push(srv);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  for (const s of started) cleanupChatd(s);
});

test('reconnects after the server is killed and restarted; offline messages are sent', async () => {
  const alice = await openClient(browser, srv, { name: 'Rita', room: 'resilient' });
  const bob = await openClient(browser, srv, { name: 'Ross', room: 'resilient' });
  try {
    await say(alice, 'before the crash');
    await waitMessage(bob, 'before the crash');
    await waitMessage(alice, 'before the crash');

    await stopChatd(srv, 'SIGKILL');
    await waitOffline(alice);

    // Sent while offline: queued and shown as pending.
    await say(alice, 'sent while offline');
    const pending = alice.locator('.log > .msg.pending', { hasText: 'sent while offline' });
    await pending.waitFor();
    assert.match(await pending.textContent(), /waiting for connection/);
    // Typed but not sent: stays in the box.
    await alice.fill('#msg-input', 'a draft I keep');

    await sleep(700);
    srv = await startChatd({ port: srv.port, dataDir: srv.dataDir });
    started.push(srv);

    await waitReconnected(alice);
    await waitReconnected(bob);
    const row = await waitMessage(alice, 'sent while offline', { timeout: 10000 });
    assert.match(await row.getAttribute('class'), /\bown\b/);
    assert.equal(await alice.locator('.log > .pending').count(), 0, 'a message is still pending');
    assert.equal(await alice.locator('#msg-input').inputValue(), 'a draft I keep');
    // Nothing is shown twice after the reconnect.
    assert.equal(await alice.locator('.log > .msg', { hasText: 'before the crash' }).count(), 1);
    assert.equal(await bob.locator('.log > .msg', { hasText: 'before the crash' }).count(), 1);
    // Still one conversation after the restart.
    await say(bob, 'after the restart');
    await waitMessage(alice, 'after the restart');
    assert.ok(await alice.evaluate(() => window.__wsCount) >= 2);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('a graceful shutdown (close 1001) is explained', async () => {
  const page = await openClient(browser, srv, { name: 'Gail', room: 'graceful' });
  try {
    await stopChatd(srv, 'SIGTERM');
    await waitOffline(page);
    const notes = await page.locator('.log > .sys.warn').allTextContents();
    assert.ok(notes.some((t) => /restarting|lost/i.test(t)), `no close explanation in ${JSON.stringify(notes)}`);
    srv = await startChatd({ port: srv.port, dataDir: srv.dataDir });
    started.push(srv);
    await waitReconnected(page);
  } finally {
    await closePage(page);
  }
});
