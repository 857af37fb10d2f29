// Frames from the server (docs/protocol.md), one handler per type.
import { ui } from './dom.js';
import { state, roomData, current } from './state.js';
import { notice, announce } from './notices.js';
import { nearBottom, scrollToBottom, afterLiveAdd, captureAnchor, restoreAnchor } from './scroll.js';
import {
  messageRow, privateRow, addSystem, insertById, insertReplayed, rememberId, resetIds, regroup, restyleOwn,
} from './render.js';
import { clearTyper, showTyper } from './typing.js';
import {
  flushOutbox, failUnconfirmed, failOldestSent, matchPending, matchPendingPrivate, forgetPending, dropPending,
} from './outbox.js';
import { sendFrame, setStatus, STABLE_AFTER_MS } from './connection.js';
import { renderRoomChrome, renderMembers, updateOlderButton, HISTORY_PAGE } from './sidebar.js';

const UNCONFIRMED_GRACE_MS = 2500;  // after a reconnect, wait this long for a replayed echo

// Why a refused message failed, as shown on its row ("not sent: ...").
const FAILED_BECAUSE = {
  rate_limited: 'you are sending too fast',
  too_large: 'it is too large for the server',
  no_such_user: 'nobody by that name is connected',
  bad_request: 'the server refused it',
};

/** Parses one text frame and runs its handler (a frame without type is a message). */
export function handleFrame(data) {
  let f;
  try { f = JSON.parse(data); } catch { notice('The server sent a frame that is not JSON.', { key: 'frame' }); return; }
  if (!f || typeof f !== 'object' || Array.isArray(f)) return;
  const handler = HANDLERS[f.type === undefined ? 'message' : f.type];
  if (handler) handler(f);
  else console.info('chatd: ignoring unknown server frame type', f.type);
}

function onWelcome(w) {
  const room = typeof w.room === 'string' ? w.room : state.room;
  const first = !state.welcomed;
  state.welcomed = true;
  const oldMe = state.me;
  if (typeof w.username === 'string') state.me = w.username;
  if (first && state.wantedName && state.me && state.me !== state.wantedName) {
    notice(`${state.wantedName} is taken; you are ${state.me}.`, { kind: 'info', key: 'name' });
  }
  if (oldMe && state.me !== oldMe) restyleOwn();
  state.limits = (w.limits && typeof w.limits === 'object') ? w.limits : {};

  const d = roomData(room);
  d.members.clear();
  for (const u of Array.isArray(w.users) ? w.users : []) d.members.set(String(u).toLowerCase(), String(u));
  d.userCount = typeof w.user_count === 'number' ? w.user_count : d.members.size;
  // last_id (extension): the room's newest id. Lower than ours: the server's ids started over.
  if (typeof w.last_id === 'number' && w.last_id < d.maxId) resetIds(d);
  d.checkReset = d.maxId > 0;
  // The replay (history:true) belongs where the welcome arrived, before notices that follow it.
  d.replayAfter = [...d.list.children].reverse().find((r) => !r.classList.contains('pending')) || 'start';

  if (room !== state.room && state.joinSentFor !== state.room) {
    // The user picked another room while this socket was opening.
    sendFrame({ type: 'join', room: state.room });
    state.joinSentFor = state.room;
  }
  setStatus('connected');
  clearTimeout(state.stableTimer);
  state.stableTimer = setTimeout(() => { state.attempt = 0; }, STABLE_AFTER_MS);

  if (room === state.room) { renderRoomChrome(); scrollToBottom(); }
  ui.nickInput.value = state.me || '';
  flushOutbox(room);
  setTimeout(failUnconfirmed, UNCONFIRMED_GRACE_MS);
}

function onMessage(m) {
  const room = typeof m.room === 'string' ? m.room : state.room;
  const d = roomData(room);
  const id = typeof m.id === 'number' ? m.id : null;
  const p = matchPending(m);

  if (id !== null && !m.history && d.checkReset) {
    d.checkReset = false;
    if (id <= d.maxId) resetIds(d);
  }
  if (id !== null && d.ids.has(id)) { if (p) dropPending(p); return; }   // never show an id twice
  const newest = id !== null && id > d.maxId;
  if (id !== null) rememberId(d, id);

  const own = !!p || (state.me !== null && m.username === state.me);
  const li = messageRow(m, own);
  const shown = room === state.room;
  const wasNear = shown && nearBottom();
  if (p && p.el.parentNode === d.list && (id === null || newest)) {
    p.el.replaceWith(li);
    regroup(li); regroup(li.nextElementSibling);
    forgetPending(p);
  } else {
    if (p) dropPending(p);
    if (newest && m.history && d.replayAfter) insertReplayed(d, li);
    else if (id !== null) insertById(d, li, id);
    else { d.list.insertBefore(li, d.list.querySelector(':scope > .pending')); regroup(li); }
  }
  clearTyper(m.username);
  updateOlderButton();
  if (!shown) return;
  if (m.history) { if (wasNear) scrollToBottom(); return; }
  afterLiveAdd(wasNear, own);
  if (!own) announce(`${m.username}: ${m.text}`);
}

function onSystem(e) {
  if (e.event === 'presence') return onPresence(e); // big rooms: one summary for many joins/leaves
  const room = typeof e.room === 'string' ? e.room : state.room;
  const d = roomData(room);
  const name = String(e.username ?? '');
  let text = typeof e.message === 'string' ? e.message : '';
  if (e.event === 'join') {
    if (!d.members.has(name.toLowerCase())) d.userCount += 1;
    d.members.set(name.toLowerCase(), name);
    text ||= `${name} joined`;
  } else if (e.event === 'leave') {
    d.members.delete(name.toLowerCase());
    d.userCount = Math.max(d.members.size, d.userCount - 1);
    clearTyper(name);
    text ||= `${name} left`;
  } else if (e.event === 'rename') {
    const old = String(e.old ?? '');
    renameEverywhere(old, name);
    text ||= `${old} is now ${name}`;
    if (state.me !== null && old === state.me) onOwnRename(old, name, e.requested);
  }
  if (text) addSystem(text, null, room, e.ts);
  if (room === state.room) renderMembers();
}

/** A rename changes the member list of every room we keep. */
function renameEverywhere(old, name) {
  for (const d of state.roomData.values()) {
    if (d.members.delete(old.toLowerCase())) d.members.set(name.toLowerCase(), name);
  }
  clearTyper(old);
}

function onOwnRename(old, name, requested) {
  state.me = name;
  ui.nickInput.value = name;
  if (typeof requested === 'string' && requested !== name) {
    notice(`${requested} is taken; you are ${name}.`, { kind: 'info', key: 'name' });
  }
  restyleOwn();
}

function onTyping(t) {
  const room = typeof t.room === 'string' ? t.room : state.room;
  const name = String(t.username ?? '');
  if (room !== state.room || !name || name === state.me) return;
  if (t.stopped === true) { clearTyper(name); return; }   // extension: the indicator ended early
  showTyper(name);
}

function onPrivate(pm) {
  if (pm.id !== undefined) {
    if (state.privateIds.has(pm.id)) return;
    state.privateIds.add(pm.id);
  }
  const mine = state.me !== null && pm.from === state.me;
  const p = matchPendingPrivate(pm, mine);
  const d = current();
  const wasNear = nearBottom();
  const li = privateRow(pm.from, pm.to, pm.text, pm.ts, mine);
  if (p && p.el.parentNode === d.list) { p.el.replaceWith(li); forgetPending(p); }
  else { if (p) dropPending(p); d.list.insertBefore(li, d.list.querySelector(':scope > .pending')); }
  afterLiveAdd(wasNear, mine);
  if (!mine) announce(`Private message from ${pm.from}: ${pm.text}`);
}

/** Answer to a history request: prepend older messages, keeping the reader's place. */
function onHistory(h) {
  const room = typeof h.room === 'string' ? h.room : state.room;
  const d = roomData(room);
  const list = Array.isArray(h.messages) ? h.messages.slice() : [];
  list.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const shown = room === state.room;
  const anchor = shown ? captureAnchor() : null;
  for (const m of list) {
    if (typeof m.id !== 'number' || d.ids.has(m.id)) continue;
    rememberId(d, m.id);
    insertById(d, messageRow(m, state.me !== null && m.username === state.me), m.id);
  }
  d.hasMore = typeof h.has_more === 'boolean' ? h.has_more : list.length >= HISTORY_PAGE;
  d.loadingOlder = false;
  updateOlderButton();                       // may hide the button: do it before restoring the place
  if (shown) restoreAnchor(anchor);
}

function onUsers(u) {
  const room = typeof u.room === 'string' ? u.room : state.room;
  const d = roomData(room);
  d.members.clear();
  for (const n of Array.isArray(u.users) ? u.users : []) d.members.set(String(n).toLowerCase(), String(n));
  d.userCount = typeof u.user_count === 'number' ? u.user_count : d.members.size;
  if (room === state.room) renderMembers();
}

/** Big rooms coalesce joins and leaves into periodic presence summaries. */
function onPresence(p) {
  const room = typeof p.room === 'string' ? p.room : state.room;
  const d = roomData(room);
  const joined = Array.isArray(p.joined) ? p.joined.map(String) : [];
  const left = Array.isArray(p.left) ? p.left.map(String) : [];
  for (const n of joined) d.members.set(n.toLowerCase(), n);
  for (const n of left) { d.members.delete(n.toLowerCase()); clearTyper(n); }
  if (typeof p.count === 'number') d.userCount = p.count;
  const parts = [];
  if (joined.length) parts.push(`${nameSummary(joined)} joined`);
  if (left.length) parts.push(`${nameSummary(left)} left`);
  if (parts.length) addSystem(parts.join(' · '), 'presence', room);
  if (room === state.room) renderMembers();
}

function nameSummary(names) {
  if (names.length <= 3) return names.join(', ');
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} others`;
}

/** serverText as the end of a sentence: no doubled full stop. */
const clause = (serverText) => serverText.replace(/[.\s]+$/, '');

/**
 * The words a person reads for an error frame: plain sentences, each fact once
 * (the server's own text only where it adds something), the code left to data-code.
 */
export function errorSentence(code, serverText, retryAfterMs, priv) {
  const detail = serverText ? clause(serverText) : '';
  switch (code) {
    case 'rate_limited': {
      if (typeof retryAfterMs !== 'number') return 'You are sending too fast. Wait a moment before sending again.';
      const s = Math.max(1, Math.ceil(retryAfterMs / 1000));
      return `You are sending too fast. You can send again in ${s} ${s === 1 ? 'second' : 'seconds'}.`;
    }
    case 'too_large': return 'That message is too large for the server.';
    case 'no_such_user':
      return priv ? `Nobody named ${priv.to} is connected, so your private message was not sent.`
        : 'Nobody by that name is connected.';
    case 'not_stored': return 'Your message was delivered, but the server could not keep it in the history.';
    case 'internal': return detail ? `The server hit an internal error (${detail}).` : 'The server hit an internal error.';
    case 'unknown_type': return detail ? `The server does not support that request (${detail}).` : 'The server does not support that request.';
    case 'bad_request': return detail ? `The server refused a request: ${detail}.` : 'The server refused a request.';
    default: return detail ? `The server refused a request (${code}): ${detail}.` : `The server refused a request (${code}).`;
  }
}

function onError(e) {
  const code = typeof e.code === 'string' ? e.code : 'error';
  const serverText = typeof e.message === 'string' ? e.message : '';
  if (code === 'unknown_type' && optionalUnsupported(serverText)) return;
  let failed = null;
  if (FAILED_BECAUSE[code]) failed = failOldestSent(code, FAILED_BECAUSE[code], e.retry_after_ms);
  const text = errorSentence(code, serverText, e.retry_after_ms, failed && failed.priv);
  notice(text, { kind: 'error', key: `error:${code}`, code });
}

/**
 * typing and history need server plugins; without them the server answers unknown_type.
 * Say so once, in plain words, and stop using that feature instead of repeating the error.
 */
function optionalUnsupported(serverText) {
  const d = current();
  let type = null;
  if (/\btyping\b/.test(serverText) || (!/\bhistory\b/.test(serverText) && Date.now() - state.lastTypingFrameAt < 1500)) type = 'typing';
  else if (/\bhistory\b/.test(serverText) || d.loadingOlder) type = 'history';
  if (!type) return false;
  if (type === 'history') {
    for (const rd of state.roomData.values()) { rd.loadingOlder = false; rd.hasMore = false; }
    updateOlderButton();
  }
  if (!state.unsupported.has(type)) {
    state.unsupported.add(type);
    notice(type === 'typing'
      ? 'This server does not relay typing indicators (it has no typing plugin).'
      : 'This server keeps no message history, so older messages cannot be loaded (it has no history plugin).',
    { kind: 'info', key: `unsupported:${type}`, code: 'unknown_type' });
  }
  return true;
}

const HANDLERS = {
  welcome: onWelcome, message: onMessage, system: onSystem, typing: onTyping,
  private: onPrivate, history: onHistory, users: onUsers, presence: onPresence, error: onError,
};
