// The message view's scroll position: follow new messages only at the bottom,
// keep the reader's place when older messages are prepended.
import { ui } from './dom.js';
import { state, current } from './state.js';

const NEAR_BOTTOM_PX = 80;

/** True when the view is (about) at its newest message. */
export function nearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

export function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  state.unseen = 0;
  ui.jumpNew.hidden = true;
}

/** Remembers where the text at the top of the view is, so a prepend can keep it in place. */
export function captureAnchor() {
  const top = ui.scroller.getBoundingClientRect().top;
  for (const row of current().list.children) {
    if (row.getBoundingClientRect().bottom > top) {
      const target = row.querySelector('.text') || row;
      return { target, y: target.getBoundingClientRect().top };
    }
  }
  return null;
}

export function restoreAnchor(anchor) {
  if (anchor && anchor.target.isConnected) ui.scroller.scrollTop += anchor.target.getBoundingClientRect().top - anchor.y;
}

/** A live row was added: follow it if the reader is at the bottom (or force), else offer a jump button. */
export function afterLiveAdd(wasNear, force) {
  if (wasNear || force) { scrollToBottom(); return; }
  state.unseen += 1;
  ui.jumpNew.textContent = state.unseen === 1 ? '1 new message ↓' : `${state.unseen} new messages ↓`;
  ui.jumpNew.hidden = false;
}
