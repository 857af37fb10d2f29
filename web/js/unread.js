// Unread state. A message is read only when its conversation is the open view of a
// visible, focused, recently used tab scrolled to the bottom; only other people's
// messages count (a DM message also counts as a mention); sending marks the
// conversation read. Read positions go to the server ({"type":"read"}), which tells
// the person's other tabs and keeps them for the next visit (history plugin).
import { ui } from './dom.js';
import { state, conv, viewConv } from './state.js';
import { el } from './util.js';
import { mentions } from './text.js';
import { regroup } from './render.js';
import { sendFrame } from './connection.js';
import { positionView } from './scroll.js';
import { scheduleChrome } from './sidebar.js';
import { notifyMention } from './notify.js';

export const IDLE_MS = 5 * 60 * 1000;
let lastActivity = Date.now();

/** The person used the page (key, pointer, wheel, touch): it is not idle. */
export function noteActivity() { lastActivity = Date.now(); }

/** True when the person can see the page: visible, focused, used within IDLE_MS. */
export function pageAttended() {
  return document.visibilityState === 'visible' && document.hasFocus() && Date.now() - lastActivity < IDLE_MS;
}

/** True when conversation c is being read: the open view of an attended page, at the bottom. */
export function isReading(c) {
  // A conversation whose stored messages are still on their way has not been seen yet.
  return c.key === state.view && c.stick && !c.awaitingHistory && pageAttended();
}

const READ_SEND_MS = 300;   // read positions are coalesced: at most one frame per conversation per 300 ms

/**
 * Tells the server (and through it the person's other tabs) that c is read up to id.
 * Only to a server that keeps read positions (it sent a read or dms frame: a server
 * without them refuses each one, and enough refusals in a row close the socket), and
 * at most once per READ_SEND_MS per conversation, with the newest id.
 */
function sendRead(c, id) {
  c.wantReadId = Math.max(c.wantReadId ?? 0, id);
  if (!state.readSync || c.readTimer) return;
  // The first one at once (a reload right after reading must not lose it), the rest of a
  // burst once at its end.
  if (Date.now() - (c.readSentAt ?? 0) >= READ_SEND_MS) { sendReadNow(c); return; }
  c.readTimer = setTimeout(() => { c.readTimer = null; sendReadNow(c); }, READ_SEND_MS);
}

function sendReadNow(c) {
  if (state.status !== 'connected' || (c.kind === 'room' && !c.joined)) return;   // flushReads after the welcome
  if (c.wantReadId <= (c.serverReadId ?? 0)) return;
  c.serverReadId = c.wantReadId;
  c.readSentAt = Date.now();
  sendFrame(c.kind === 'room' ? { type: 'read', room: c.name, id: c.wantReadId } : { type: 'read', dm: c.name, id: c.wantReadId });
}

/** The page is going away (reload, close): read positions still waiting go out now. */
export function flushReadsNow() {
  for (const c of state.convs.values()) {
    if (!c.readTimer) continue;
    clearTimeout(c.readTimer);
    c.readTimer = null;
    sendReadNow(c);
  }
}

/** After a (re)connect or once the server turned out to keep read positions: send what it lacks. */
export function flushReads(c) {
  if (c.readId > 0 && c.readId > (c.serverReadId ?? 0)) sendRead(c, c.readId);
}

/** The first row of c after its read position that someone else wrote (null: none loaded). */
function firstUnreadRow(c) {
  for (const row of c.list.querySelectorAll(':scope > .msg[data-id]:not(.own)')) {
    if (Number(row.dataset.id) > c.readId) return row;
  }
  return null;
}

/** Puts the one "new since you left" divider above the first unread message of c. */
export function placeDivider(c) {
  if (c.divider && c.dividerReadId === c.readId && c.divider.parentNode === c.list) return c.divider;
  removeDivider(c);
  let before = firstUnreadRow(c);
  // Not loaded (older than what was replayed): above the oldest message shown.
  if (!before) before = c.list.querySelector(':scope > .msg[data-id]');
  if (!before) return null;
  const li = el('li', 'divider');
  li.setAttribute('role', 'separator');
  li.append(el('span', 'divider-text', 'New since you left'));
  c.list.insertBefore(li, before);
  regroup(before);            // the first unread message shows its author again
  c.divider = li;
  c.dividerReadId = c.readId;
  return li;
}

export function removeDivider(c) {
  if (c.divider) {
    const next = c.divider.nextElementSibling;
    c.divider.remove();
    regroup(next);
  }
  c.divider = null;
  c.dividerReadId = null;
}

/** Marks c read up to its newest message: counts cleared, the divider placed if there was news. */
export function markRead(c) {
  if (c.unread > 0) placeDivider(c);
  const changed = c.unread !== 0 || c.mentions !== 0;
  c.unread = 0;
  c.mentions = 0;
  if (c.maxId > c.readId) { c.readId = c.maxId; sendRead(c, c.readId); }
  if (changed) scheduleChrome();
}

/** Marks the view read if it is being read now (call after anything that could make it so). */
export function checkRead() {
  const c = viewConv();
  if (isReading(c)) markRead(c);
}

/**
 * A message arrived in c. own: mine (marks c read up to it). live: not a replay.
 * Counts it when it is someone else's, new, and c is not being read; notifies a mention.
 */
export function noteMessage(c, m, { own, live, from, text }) {
  const id = typeof m.id === 'number' ? m.id : null;
  if (own) {
    if (c.unread || c.mentions) { c.unread = 0; c.mentions = 0; scheduleChrome(); }
    if (id !== null && id > c.readId) { c.readId = id; sendRead(c, id); }
    return;
  }
  if (!live || (id !== null && id <= c.readId)) return;
  if (isReading(c)) { markRead(c); return; }
  const mention = c.kind === 'dm' || mentions(text, state.me);
  c.unread += 1;
  if (mention) c.mentions += 1;
  scheduleChrome();
  if (mention) notifyMention(c, from, text);
}

/** Recounts c's unread messages from the rows loaded (never more than counted before). */
function recount(c) {
  let unread = 0;
  let ment = 0;
  for (const row of c.list.querySelectorAll(':scope > .msg[data-id]:not(.own)')) {
    if (Number(row.dataset.id) <= c.readId) continue;
    unread += 1;
    if (c.kind === 'dm' || row.classList.contains('mentioned')) ment += 1;
  }
  c.unread = Math.min(c.unread, unread);
  c.mentions = Math.min(c.mentions, ment);
}

/**
 * A read frame from the server: {room|dm, id} (another tab of mine read up to id) or,
 * after a join's replay, {room, id, unread, mentions} (where the stored position is and
 * what is new since). Forward only.
 */
export function onRead(f) {
  if (typeof f.id !== 'number') return;
  if (!state.readSync) {
    state.readSync = true;      // this server keeps read positions: tell it ours
    for (const x of state.convs.values()) if (x.joined || x.kind === 'dm') flushReads(x);
  }
  let c;
  if (typeof f.dm === 'string') c = conv(`@${f.dm.toLowerCase()}`, f.dm);
  else if (typeof f.room === 'string') { c = state.convs.get(`#${f.room}`); if (!c) return; }
  else return;
  // A summary (unread present) is what the server has stored; an echo is at least that.
  c.serverReadId = typeof f.unread === 'number' ? f.id : Math.max(c.serverReadId ?? 0, f.id);
  if (typeof f.unread === 'number') {
    if (f.id >= c.readId) {
      c.readId = f.id;
      c.unread = f.unread;
      c.mentions = typeof f.mentions === 'number' ? f.mentions : (c.kind === 'dm' ? f.unread : 0);
    } else {
      recount(c);                 // this tab read further: the server catches up
      sendRead(c, c.readId);
    }
  } else if (f.id > c.readId) {
    c.readId = f.id;
    recount(c);
    if (c.unread === 0 && c.divider && c.key !== state.view) removeDivider(c);
  }
  scheduleChrome();
  if (c.key === state.view) revealUnread(c);
}

/** The view c was opened or got news: divider above the first unread, shown, then read if seen. */
export function revealUnread(c, { position = false } = {}) {
  let at = null;
  if (c.unread > 0) {
    const divider = placeDivider(c);
    if (position && divider) at = divider;
  }
  if (position) {
    // A divider within the last screenful: simply show the bottom.
    positionView(c, at && !dividerNearBottom(at) ? at : null);
  }
  checkRead();
}

/** True when the divider is within the last screenful of the view (showing the bottom shows it). */
function dividerNearBottom(divider) {
  const s = ui.scroller;
  const offset = divider.getBoundingClientRect().top - s.getBoundingClientRect().top + s.scrollTop;
  return s.scrollHeight - offset <= s.clientHeight;
}

/** Sum of unread messages over every conversation (the tab title's count). */
export function totalUnread() {
  let n = 0;
  for (const c of state.convs.values()) n += c.unread;
  return n;
}
