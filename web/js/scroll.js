// The message view's scroll position, per conversation: follow new messages only
// while the reader is at the bottom, offer a jump button otherwise, keep the
// reader's place when older messages are prepended or another view was shown.
import { ui } from './dom.js';
import { state, viewConv } from './state.js';

const NEAR_BOTTOM_PX = 80;
let stickFrame = 0;
let autoScrolled = false;   // the next scroll event is ours (following new rows), not the reader's

/** True when the view is (about) at its newest message (reads layout). */
export function nearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
}

/** Scrolls the view to its newest message now, and clears the jump button. */
export function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  const c = viewConv();
  c.stick = true;
  c.unseen = 0;
  ui.jumpNew.hidden = true;
}

/** Scrolls to the bottom at the next frame: many rows added in one burst cost one layout. */
function stickSoon() {
  if (stickFrame) return;
  stickFrame = requestAnimationFrame(() => {
    stickFrame = 0;
    if (!viewConv().stick) return;
    autoScrolled = true;
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  });
}

/** The reader scrolled: remember whether the view is at the bottom. */
export function onScroll() {
  // Following new rows scrolls too: measuring then would lay out the rows added since, for nothing.
  if (autoScrolled) { autoScrolled = false; return; }
  const c = viewConv();
  c.stick = nearBottom();
  if (c.stick) { c.unseen = 0; ui.jumpNew.hidden = true; }
}

/** Remembers where the text at the top of the view is, so a prepend can keep it in place. */
export function captureAnchor() {
  const top = ui.scroller.getBoundingClientRect().top;
  for (const row of viewConv().list.children) {
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

/**
 * A row was added to conversation c: when c is shown, follow it if the reader is at the
 * bottom (or force: own messages), else count it for the jump button (unless quiet).
 */
export function afterLiveAdd(c, force, quiet = false) {
  if (c.key !== state.view) return;
  if (c.stick || force) { c.stick = true; stickSoon(); return; }
  if (quiet) return;
  c.unseen += 1;
  ui.jumpNew.textContent = c.unseen === 1 ? '1 new message ↓' : `${c.unseen} new messages ↓`;
  ui.jumpNew.hidden = false;
}

/** Shows the view of c where its reader left it (or at the bottom), or at element `at`. */
export function positionView(c, at) {
  if (at) {
    ui.scroller.scrollTop = 0;
    const top = at.getBoundingClientRect().top - ui.scroller.getBoundingClientRect().top;
    ui.scroller.scrollTop = Math.max(0, top - 8);
    c.stick = nearBottom();
  } else if (c.stick || c.scrollTop === null) {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
    c.stick = true;
  } else {
    ui.scroller.scrollTop = c.scrollTop;
  }
  ui.jumpNew.hidden = !(c.unseen > 0 && !c.stick);
}

/** Remembers the place in the view being left. */
export function saveView(c) {
  c.scrollTop = ui.scroller.scrollTop;
  c.stick = nearBottom();
}
