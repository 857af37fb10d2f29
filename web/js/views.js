// Which conversation is shown, and joining / leaving rooms. The view is in the URL
// fragment (#room, #@name) so links and back/forward work; a room is joined with a
// join frame on the same socket (multi=1: added to the others; a single-room server:
// switched to).
import { ui } from './dom.js';
import { state, conv, viewConv, roomKey, dmKey } from './state.js';
import { roomProblem, canonicalRoom } from './validate.js';
import { notice } from './notices.js';
import { saveView } from './scroll.js';
import { connect, sendFrame } from './connection.js';
import { rememberRoom, rememberView, renderChrome, renderLists, HISTORY_PAGE } from './sidebar.js';
import { revealUnread, removeDivider } from './unread.js';
import { save, STORE_ROOMS } from './store.js';
import { dropPending } from './outbox.js';

/** The conversation key the URL fragment names ("#room" or "@name"), or '' (none or invalid). */
export function hashKey() {
  let raw = location.hash.slice(1);
  try { raw = decodeURIComponent(raw); } catch { /* a malformed escape counts as raw text */ }
  if (!raw) return '';
  if (raw[0] === '@') return raw.length > 1 ? dmKey(raw.slice(1)) : '';
  return roomProblem(raw) ? '' : roomKey(canonicalRoom(raw));
}

/** The fragment for a conversation key. */
const hashOf = (key) => (key[0] === '#' ? key.slice(1) : key);

/** Sends a join for room (with since= when it has messages), once per socket. */
export function sendJoin(room) {
  const c = conv(roomKey(room));
  if (c.joinSent) return;
  c.joinSent = true;
  sendFrame({ type: 'join', room, ...(c.maxId > 0 ? { since: c.maxId } : {}) });
}

/**
 * Asks to show a room: validated, made lower case (saying so when the user typed it
 * otherwise: opts.typed). False (with the reason shown) when refused.
 */
export function goRoom(typedRoom, opts = {}) {
  const why = roomProblem(typedRoom);
  if (why) { ui.joinError.textContent = why; notice(`Cannot join “${typedRoom}”: ${why}`, { key: 'room' }); return false; }
  ui.joinError.textContent = '';
  const room = canonicalRoom(typedRoom);
  if (opts.typed && room !== typedRoom) {
    notice(`Room names are not case-sensitive: “${typedRoom}” is #${room}.`, { kind: 'info', key: 'room' });
  }
  openConv(roomKey(room));
  return true;
}

/** Shows a conversation (joining its room first when needed), through the URL fragment. opts.name: a DM peer's name. */
export function openConv(key, opts = {}) {
  if (key[0] === '@') { const c = conv(key, opts.name); c.shown = true; }
  if (location.hash.slice(1) !== hashOf(key) && hashKey() !== key) location.hash = hashOf(key);
  else showConv(key);
}

/** The URL fragment changed (a link, back/forward, or openConv). */
export function onHashChange() {
  const raw = location.hash.slice(1);
  if (!raw) return;
  const key = hashKey();
  if (!key) {
    let shown = raw;
    try { shown = decodeURIComponent(raw); } catch { /* as typed */ }
    notice(`Cannot open “${shown}”: ${roomProblem(shown) || 'that is not a room or a person.'}`, { key: 'room' });
    return;
  }
  if (hashOf(key) !== raw) history.replaceState(null, '', `#${hashOf(key)}`);
  showConv(key);
}

/** Makes key the view: leaves the old one where its reader was, joins a room not joined yet. */
export function showConv(key) {
  if (key === state.view) { renderChrome(); return; }
  const old = viewConv();
  saveView(old);
  removeDivider(old);
  state.view = key;
  rememberView();
  const c = conv(key);
  if (c.kind === 'room') enterRoom(c.name);
  else { c.shown = true; askDmHistory(c); }
  renderChrome();
  revealUnread(c, { position: true });
}

/** Joins room (multi) or switches to it (a single-room server); connects when offline. */
function enterRoom(room) {
  rememberRoom(room);
  const open = state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN;
  if (open && state.multi) sendJoin(room);
  else if (open) {
    for (const c of state.convs.values()) if (c.kind === 'room') { c.joined = false; c.joinSent = false; }
    sendJoin(room);
    state.joinSentFor = room;
  } else if (state.status === 'offline') {
    connect();                       // the user acted: try now rather than wait for the timer
  }                                  // connecting: the welcome handler joins it
}

/** DMs: the stored conversation, once per page, when the server keeps DMs (it sent a dms frame). */
export function askDmHistory(c) {
  if (c.historyAsked || !state.dmHistory || state.status !== 'connected' || state.unsupported.has('history')) return;
  c.historyAsked = true;
  c.loadingOlder = true;
  c.awaitingHistory = true;
  sendFrame({ type: 'history', dm: c.name, limit: HISTORY_PAGE });
}

/** Leaves a room (multi) or forgets a bookmark (single-room server); shows another room if it was shown. */
export function leaveRoom(room) {
  const key = roomKey(room);
  if (state.multi && state.rooms.length <= 1) return;
  if (state.multi) {
    const c = conv(key);
    if (c.joinSent || c.joined) sendFrame({ type: 'leave', room });
    for (const p of [...state.pending.values()]) if (p.key === key) dropPending(p);
    state.convs.delete(key);
  }
  state.rooms = state.rooms.filter((r) => r !== room);
  save(STORE_ROOMS, state.rooms);
  if (state.view === key) openConv(roomKey(state.rooms[0]));
  else renderLists();
  ui.joinInput.focus();
}

/** Takes a DM conversation off the sidebar (it comes back with the next message). */
export function forgetDm(key) {
  const c = conv(key);
  c.shown = false;
  if (state.view === key) openConv(roomKey(state.rooms[0] || 'general'));
  else renderLists();
}
