// Messages people expect to read: clickable links (only http, https and mailto, opening
// in a new tab with rel=noopener noreferrer), inline `code` and ``` blocks, and one's
// own name marked where someone mentions it (as a whole word, any case).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startChatd, stopChatd, cleanupChatd, launchBrowser, openClient, closePage, say, waitMessage, waitMembers,
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

/** The links of a row: [text, href, target, rel]. */
const links = (row) => row.locator('.text a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href'), a.target, a.rel]));

test('links are clickable and safe; code shows as code', async () => {
  const alice = await openClient(browser, srv, { name: 'Ada', room: 'rich' });
  const bob = await openClient(browser, srv, { name: 'Ben', room: 'rich' });
  try {
    await waitMembers(bob, ['Ada', 'Ben']);
    await say(alice, 'docs at https://example.org/a_(b)?q=1#x, mail mailto:ops@example.org. or http://127.0.0.1:8000/.');
    const row = await waitMessage(bob, 'docs at');
    assert.deepEqual(await links(row), [
      ['https://example.org/a_(b)?q=1#x', 'https://example.org/a_(b)?q=1#x', '_blank', 'noopener noreferrer'],
      ['mailto:ops@example.org', 'mailto:ops@example.org', '_blank', 'noopener noreferrer'],
      ['http://127.0.0.1:8000/', 'http://127.0.0.1:8000/', '_blank', 'noopener noreferrer'],
    ]);
    // The words around the links are kept exactly.
    assert.equal(await row.locator('.text').textContent(), 'docs at https://example.org/a_(b)?q=1#x, mail mailto:ops@example.org. or http://127.0.0.1:8000/.');

    const hostile = 'javascript:alert(1) data:text/html,<script>x</script> vbscript:x JaVaScRiPt://x.org/%0aalert(1) file:///etc/passwd <a href="javascript:alert(1)">x</a>';
    await say(alice, hostile);
    const bad = await waitMessage(bob, 'vbscript:x');
    assert.deepEqual(await links(bad), [], 'a link to something other than http, https or mailto');
    assert.equal(await bad.locator('.text').textContent(), hostile);

    await say(alice, 'run `make -j2 check` then:\n```sh\n./chatd -c etc/chatd.conf\n<b>not bold</b> https://not.a.link.in/code\n```\nthat is all');
    const code = await waitMessage(bob, 'that is all');
    assert.deepEqual(await code.locator('.text code.code').allTextContents(), ['make -j2 check']);
    assert.equal(await code.locator('.text pre.code-block').textContent(), './chatd -c etc/chatd.conf\n<b>not bold</b> https://not.a.link.in/code');
    assert.equal(await code.locator('.text pre a, .text b').count(), 0, 'links or markup inside a code block');
    assert.equal(await code.locator('pre.code-block').evaluate((e) => getComputedStyle(e).fontFamily), await code.locator('code.code').evaluate((e) => getComputedStyle(e).fontFamily));
    assert.match(await code.locator('pre.code-block').evaluate((e) => getComputedStyle(e).fontFamily), /mono/i);

    // Built with DOM APIs: nothing in the page came from parsing a message as HTML.
    assert.equal(await bob.locator('#app b, #app script, #app img').count(), 0);
    assert.deepEqual(bob.cspErrors, []);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});

test('my name is marked where someone mentions it: a whole word, any case', async () => {
  const alice = await openClient(browser, srv, { name: 'Alice', room: 'mentions' });
  const bob = await openClient(browser, srv, { name: 'Bob', room: 'mentions' });
  try {
    await waitMembers(alice, ['Alice', 'Bob']);
    for (const t of ['hey ALICE, look', 'malice and alicele are not her', '@alice: ping', 'Alice']) await say(bob, t);
    const rows = {};
    for (const t of ['hey ALICE, look', 'malice and alicele are not her', '@alice: ping']) rows[t] = await waitMessage(alice, t);
    const last = alice.locator('.log > .msg:not(.pending)').last();
    await last.locator('.text', { hasText: /^Alice$/ }).waitFor();
    const marked = (row) => row.evaluate((e) => [e.classList.contains('mentioned'), [...e.querySelectorAll('mark.mention')].map((m) => m.textContent)]);
    assert.deepEqual(await marked(rows['hey ALICE, look']), [true, ['ALICE']]);
    assert.deepEqual(await marked(rows['malice and alicele are not her']), [false, []]);
    assert.deepEqual(await marked(rows['@alice: ping']), [true, ['alice']]);
    assert.deepEqual(await marked(last), [true, ['Alice']]);
    // Bob's own view marks nothing (it is not his name), and his messages never mention him.
    assert.equal(await bob.locator('.log > .msg.mentioned').count(), 0);
  } finally {
    await closePage(alice);
    await closePage(bob);
  }
});
