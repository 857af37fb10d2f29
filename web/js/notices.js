// Notices (errors and information above the composer) and the screen-reader announcer.
// One notice per kind: a notice whose key is already shown replaces that one's words
// (and restarts its timer) instead of stacking a second copy over the conversation.
import { ui } from './dom.js';
import { el } from './util.js';

const NOTICE_MS = 12000;
const MAX_NOTICES = 3;
const shown = new Map();   // key -> { box, timer }

/**
 * Shows a dismissible notice in the alert region; returns its element.
 * opts: kind ('error' | 'info'), key (what kind of notice this is: one per key is shown;
 * default: the text itself), code (an error code, kept as data-code), ms (0: stays).
 */
export function notice(text, opts = {}) {
  const { kind = 'error', key = text, code, ms = NOTICE_MS } = typeof opts === 'string' ? { kind: opts } : opts;
  let entry = shown.get(key);
  if (entry) {
    clearTimeout(entry.timer);
    entry.box.querySelector('.notice-text').textContent = text;
  } else {
    const box = el('div', '');
    box.append(el('span', 'notice-text', text));
    const close = el('button', 'icon-btn notice-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.addEventListener('click', () => { dismissNotice(key); ui.input.focus(); });
    box.append(close);
    entry = { box, timer: null };
    shown.set(key, entry);
    ui.notices.append(box);
    while (shown.size > MAX_NOTICES) dismissNotice(shown.keys().next().value);
  }
  entry.box.className = `notice ${kind}`;
  if (code) entry.box.dataset.code = code; else delete entry.box.dataset.code;
  if (ms) entry.timer = setTimeout(() => dismissNotice(key), ms);
  return entry.box;
}

/** Removes the notice shown under key, if any. */
export function dismissNotice(key) {
  const entry = shown.get(key);
  if (!entry) return;
  clearTimeout(entry.timer);
  entry.box.remove();
  shown.delete(key);
}

/** Reads text out through the polite live region (keeps the last five). */
export function announce(text) {
  const p = el('p', null, text);
  ui.announcer.append(p);
  while (ui.announcer.childElementCount > 5) ui.announcer.firstElementChild.remove();
}
