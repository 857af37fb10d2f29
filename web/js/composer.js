// The message box: sending on Enter, the byte counter, auto-grow, keyboard shortcuts.
import { ui } from './dom.js';
import { state } from './state.js';
import { byteLength } from './util.js';
import { scrollToBottom } from './scroll.js';
import { maybeSendTyping } from './typing.js';
import { sendChat } from './outbox.js';
import { runCommand, commandsStartingWith } from './commands.js';
import { openConv } from './views.js';
import { checkRead } from './unread.js';

export function onSubmit(ev) {
  ev.preventDefault();
  const raw = ui.input.value;
  const text = raw.trim();
  if (!text) return;
  let ok;
  if (text.startsWith('/') && !text.startsWith('//')) ok = runCommand(text);
  else ok = sendChat(text.startsWith('//') ? text.slice(1) : text);
  if (ok) { ui.input.value = ''; onInput(); }
}

/** Byte counter and size guard of the message box. */
export function updateComposer() {
  const v = ui.input.value;
  const bytes = byteLength(v.trim());
  const max = state.limits.max_message_bytes;
  const over = typeof max === 'number' && bytes > max;
  ui.byteCounter.textContent = typeof max === 'number' ? `${bytes} / ${max} bytes` : `${bytes} bytes`;
  ui.byteCounter.classList.toggle('over', over);
  ui.byteCounter.classList.toggle('near', !over && typeof max === 'number' && bytes > max * 0.9);
  ui.input.setAttribute('aria-invalid', over ? 'true' : 'false');
  ui.composer.querySelector('.send-btn').disabled = over;
}

const DEFAULT_HINT = 'Enter to send · Shift+Enter for a new line · /help for commands';

/** While a /command is being typed (no space yet): the commands that match, client's and server's. */
function updateCommandHint() {
  const m = ui.input.value.match(/^\/([A-Za-z0-9_-]*)$/);
  const found = m ? commandsStartingWith(m[1]) : [];
  ui.composerHint.textContent = found.length ? found.map((c) => c.line).join(' · ') : DEFAULT_HINT;
  ui.composerHint.classList.toggle('commands', found.length > 0);
  return found;
}

/** After every edit: counter, height (CSSOM only, for the CSP), typing frame. */
export function onInput() {
  updateComposer();
  updateCommandHint();
  ui.input.style.height = 'auto';
  ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  maybeSendTyping();
}

/** The conversations in sidebar order: rooms, then the DMs listed. */
function sidebarKeys() {
  return [...ui.roomList.children, ...ui.dmList.children].map((li) => li.dataset.key).filter(Boolean);
}

export function onInputKey(ev) {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); ui.composer.requestSubmit(); }
  else if (ev.key === 'Tab' && !ev.shiftKey && /^\/[A-Za-z0-9_-]*$/.test(ui.input.value)) {
    const found = updateCommandHint();   // one match: Tab completes it
    if (found.length === 1) { ev.preventDefault(); ui.input.value = `/${found[0].name} `; onInput(); }
  }
  else if (ev.key === 'Escape') { scrollToBottom(); checkRead(); }
  else if (ev.altKey && (ev.key === 'ArrowUp' || ev.key === 'ArrowDown')) {
    ev.preventDefault();
    const keys = sidebarKeys();
    const i = keys.indexOf(state.view);
    const next = keys[(i + (ev.key === 'ArrowUp' ? -1 : 1) + keys.length) % keys.length];
    if (next) openConv(next);
  }
}
