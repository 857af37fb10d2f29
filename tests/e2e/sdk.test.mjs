// Plugin slash commands and answers in the bundled client (issue 15): the
// commands a server's plugins register (welcome.commands) are offered while
// typing "/", listed by /help and sent to the server; a message a plugin
// consumed (ack or a reply frame carrying the client_id) or denied (an error
// carrying it) never stays "sending…". Uses the in-tree test plugins
// tests/plugins/sdkapi.so (/echo, /shout) and sdkprobe.so ("consume").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, sleep,
} from './helpers.mjs';

const BUILD = process.env.TOP_BUILDDIR || ROOT;
const SDKAPI = path.join(BUILD, 'tests', 'plugins', 'sdkapi.so');
const SDKPROBE = path.join(BUILD, 'tests', 'plugins', 'sdkprobe.so');
const skip = fs.existsSync(SDKAPI) && fs.existsSync(SDKPROBE) ? false : 'test plugins not built (make check builds them)';

let srv;
let browser;

before(async () => {
  if (skip) return;
  browser = await launchBrowser();
  srv = await startChatd({
    config: (port) => `[server]\nport = ${port}\n\n[plugin sdkapi]\npath = ${SDKAPI}\n\n[plugin sdkprobe]\npath = ${SDKPROBE}\n`,
  });
});

after(async () => {
  if (browser) await browser.close();
  await stopChatd(srv);
  cleanupChatd(srv);
});

test('plugin commands are offered, listed by /help and run by the server', { skip }, async () => {
  const page = await openClient(browser, srv, { name: 'Cmd', room: 'cmds' });
  const other = await openClient(browser, srv, { name: 'Obs', room: 'cmds' });
  try {
    // typing "/sh" offers /shout with its usage and help; Tab completes it
    await page.fill('#msg-input', '/sh');
    await page.dispatchEvent('#msg-input', 'input');
    const hint = page.locator('#composer-hint');
    assert.equal(await hint.textContent(), '/shout TEXT — TEXT IN CAPITALS');
    await page.press('#msg-input', 'Tab');
    assert.equal(await page.inputValue('#msg-input'), '/shout ');
    await page.type('#msg-input', 'hello there');
    await page.press('#msg-input', 'Enter');
    await waitMessage(other, 'HELLO THERE');
    await waitMessage(page, 'HELLO THERE');
    assert.equal(await page.locator('.notice', { hasText: 'Unknown command' }).count(), 0);
    // /help lists the server's commands after the client's own
    await say(page, '/help');
    const help = page.locator('.log > .sys.help', { hasText: 'Commands:' }).last();
    await help.waitFor();
    const text = await help.textContent();
    assert.match(text, /\/echo TEXT — says TEXT back to you/);
    assert.match(text, /\/shout TEXT — TEXT IN CAPITALS/);
    assert.match(text, /\/nick NAME/);
    await page.screenshot({ path: path.join(process.env.E2E_SHOTS || '/tmp', 'sdk-commands.png') });
  } finally {
    await closePage(page);
    await closePage(other);
  }
});

test('consumed and denied messages settle: reply, ack or error, never "sending…" forever', { skip }, async () => {
  const page = await openClient(browser, srv, { name: 'Ack', room: 'acks' });
  try {
    await say(page, '/echo hi');            // consumed, answered with a plugin frame carrying the client_id
    await say(page, 'consume');             // consumed without a reply: the core's ack
    await say(page, '/echo deny');          // denied: an error carrying the client_id
    const failed = page.locator('.log > .msg.failed', { hasText: '/echo deny' });
    await failed.waitFor();
    assert.match(await failed.locator('.pending-state').textContent(), /^not sent/);
    await page.locator('.notice', { hasText: 'usage: /echo TEXT' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.log > .pending:not(.failed)').length === 0, null, { timeout: 5000 });
    await sleep(300);
    assert.equal(await page.locator('.log > .pending:not(.failed)').count(), 0, 'a message stayed pending');
    assert.equal(await page.locator('.log > .msg', { hasText: 'consume' }).count(), 0, 'a consumed message is shown');
  } finally {
    await closePage(page);
  }
});

test('a plugin notice shows as a notice, with its id, not as a person', { skip }, async () => {
  const page = await openClient(browser, srv, { name: 'Nia', room: 'notices' });
  try {
    const http = await fetch(`http://127.0.0.1:${srv.port}/plugins/sdkapi/notice?room=notices&text=deploy%20done`);
    assert.equal(http.status, 200);
    const id = Number((await http.text()).trim());
    const row = page.locator('.log > .msg.notice', { hasText: 'deploy done' });
    await row.waitFor();
    assert.equal(await row.getAttribute('data-id'), String(id));
    assert.equal(await row.locator('.author').textContent(), 'Notice');
  } finally {
    await closePage(page);
  }
});

