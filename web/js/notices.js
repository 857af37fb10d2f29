// Notices (errors and information above the composer) and the screen-reader announcer.
import { ui } from './dom.js';
import { el } from './util.js';

const NOTICE_MS = 12000;

/** Shows a dismissible notice in the alert region; returns its element. */
export function notice(text, kind = 'error', ms = NOTICE_MS) {
  const box = el('div', `notice ${kind}`);
  box.append(el('span', 'notice-text', text));
  const close = el('button', 'icon-btn notice-close', '×');
  close.type = 'button';
  close.setAttribute('aria-label', 'Dismiss');
  close.addEventListener('click', () => { box.remove(); ui.input.focus(); });
  box.append(close);
  ui.notices.append(box);
  while (ui.notices.childElementCount > 4) ui.notices.firstElementChild.remove();
  if (ms) setTimeout(() => box.remove(), ms);
  return box;
}

/** Reads text out through the polite live region (keeps the last five). */
export function announce(text) {
  const p = el('p', null, text);
  ui.announcer.append(p);
  while (ui.announcer.childElementCount > 5) ui.announcer.firstElementChild.remove();
}
