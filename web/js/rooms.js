// Switching rooms: through the URL fragment (#room) so links and back/forward work,
// with a join frame on the same socket.
import { ui } from './dom.js';
import { state } from './state.js';
import { roomProblem, canonicalRoom } from './validate.js';
import { notice } from './notices.js';
import { scrollToBottom } from './scroll.js';
import { clearTypers } from './typing.js';
import { connect, sendFrame } from './connection.js';
import { rememberRoom, renderRoomChrome } from './sidebar.js';

/** The room named by the URL fragment (#room), or '' (a malformed escape counts as raw text). */
export function hashRoom() {
  const raw = location.hash.slice(1);
  try { return decodeURIComponent(raw); } catch { return raw; }
}

/**
 * Asks to show a room: validated, made lower case (saying so when the user typed it
 * otherwise: opts.typed), then through the URL hash. False (with the reason shown) when refused.
 */
export function goRoom(typedRoom, opts = {}) {
  const why = roomProblem(typedRoom);
  if (why) { ui.joinError.textContent = why; notice(`Cannot join “${typedRoom}”: ${why}`, { key: 'room' }); return false; }
  ui.joinError.textContent = '';
  const room = canonicalRoom(typedRoom);
  if (opts.typed && room !== typedRoom) {
    notice(`Room names are not case-sensitive: “${typedRoom}” is #${room}.`, { kind: 'info', key: 'room' });
  }
  if (hashRoom() !== room) location.hash = room;
  else switchRoom(room);
  return true;
}

/** Switches on the same socket with a join frame; the server answers with a new welcome. */
function switchRoom(room) {
  if (room === state.room) { renderRoomChrome(); return; }
  state.room = room;
  rememberRoom(room);
  clearTypers();
  state.unseen = 0;
  ui.jumpNew.hidden = true;
  renderRoomChrome();
  scrollToBottom();
  if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN) {
    sendFrame({ type: 'join', room });
    state.joinSentFor = room;
  } else if (state.status === 'offline') {
    connect();                       // the user acted: try now rather than wait for the timer
  }                                  // connecting: onWelcome sends the join
}

export function onHashChange() {
  const room = hashRoom();
  if (!room) return;
  const why = roomProblem(room);
  if (why) { notice(`Cannot open “${room}”: ${why}`, { key: 'room' }); return; }
  const canon = canonicalRoom(room);
  if (canon !== room) history.replaceState(null, '', `#${canon}`);
  switchRoom(canon);
}
