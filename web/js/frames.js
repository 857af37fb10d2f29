// Frames from the server (docs/protocol.md), one handler per type. Every room frame
// names its room; direct messages go to the conversation with the other person.
import { ui } from './dom.js';
import { state, conv, viewConv, roomConv, roomKey, dmKey } from './state.js';
import { notice, announce } from './notices.js';
import { afterLiveAdd, captureAnchor, restoreAnchor } from './scroll.js';
import {
  messageRow, systemRow, addSystem, insertById, insertUnnumbered, insertReplayed, rememberId, resetIds, regroup, restyleOwn,
} from './render.js';
import { clearTyper, clearTyperEverywhere, showTyper } from './typing.js';
import {
  flushOutbox, failUnconfirmed, failOldestSent, matchPending, matchPendingPrivate, forgetPending, dropPending,
  privateUnsupported,
} from './outbox.js';
import { setStatus, firstRoom, STABLE_AFTER_MS } from './connection.js';
import {
  renderChrome, renderMembers, updateOlderButton, scheduleChrome, rememberRoom, HISTORY_PAGE,
} from './sidebar.js';
import { sendJoin, askDmHistory, openConv } from './views.js';
import { noteMessage, onRead, flushReads, revealUnread } from './unread.js';
import { renderDirectory, directoryUnsupported } from './browse.js';
import { renderResults, searchUnsupported } from './search.js';

const UNCONFIRMED_GRACE_MS = 2500;  // after a reconnect, wait this long for a replayed echo

// Why a refused message failed, as shown on its row ("not sent: ...").
const FAILED_BECAUSE = {
  rate_limited: 'you are sending too fast',
  too_large: 'it is too large for the server',
  no_such_user: 'nobody by that name is connected',
  bad_request: 'the server refused it',
  not_in_room: 'you are not in that room',
  unavailable: 'the server could not reach its message store',
};

/** Parses one text frame and runs its handler (a frame without type is a message). */
export function handleFrame(data) {
  let f;
  try { f = JSON.parse(data); } catch { notice('The server sent a frame that is not JSON.', { key: 'frame' }); return; }
  if (!f || typeof f !== 'object' || Array.isArray(f)) return;
  const handler = HANDLERS[f.type === undefined ? 'message' : f.type];
  if (handler) handler(f);
  else if (typeof f.client_id === 'string' && state.pending.has(f.client_id)) {
    dropPending(state.pending.get(f.client_id));   // a plugin's own answer to our message: it is done
  } else console.info('chatd: ignoring unknown server frame type', f.type);
}

/** The room a frame without "room" is about (old servers): the socket's room. */
function fallbackRoom() {
  return state.multi ? firstRoom() : (state.joinSentFor || firstRoom());
}

/** The room conversation a frame names, or null for a room this client is no longer in. */
function frameRoom(f) {
  const room = typeof f.room === 'string' ? f.room : fallbackRoom();
  if (state.multi && !state.rooms.includes(room)) return null;
  return roomConv(room);
}

function onWelcome(w) {
  const room = typeof w.room === 'string' ? w.room : fallbackRoom();
  const first = !state.welcomed;
  state.welcomed = true;
  if (first) state.multi = w.multi === true;
  const oldMe = state.me;
  if (typeof w.username === 'string') state.me = w.username;
  if (first && state.wantedName && state.me && state.me !== state.wantedName) {
    notice(`${state.wantedName} is taken; you are ${state.me}.`, { kind: 'info', key: 'name' });
  }
  if (oldMe && state.me !== oldMe) restyleOwn();
  state.limits = (w.limits && typeof w.limits === 'object') ? w.limits : {};
  // commands (extension): what the server's plugins let us type, offered in the composer and /help.
  state.commands = (Array.isArray(w.commands) ? w.commands : [])
    .filter((c) => c && typeof c.name === 'string' && /^[a-z0-9_-]{1,32}$/.test(c.name))
    .map((c) => ({ name: c.name, usage: typeof c.usage === 'string' ? c.usage : `/${c.name}`, help: typeof c.help === 'string' ? c.help : '' }));

  if (!state.multi) state.joinSentFor = room;
  rememberRoom(room);
  const c = roomConv(room);
  c.joined = true;
  c.joinSent = true;
  c.members.clear();
  for (const u of Array.isArray(w.users) ? w.users : []) c.members.set(String(u).toLowerCase(), String(u));
  c.userCount = typeof w.user_count === 'number' ? w.user_count : c.members.size;
  // last_id (extension): the room's newest id. Lower than ours: the server's ids started over.
  if (typeof w.last_id === 'number' && w.last_id < c.maxId) resetIds(c);
  c.checkReset = c.maxId > 0;
  c.maxIdAtWelcome = c.maxId;
  // The replay (history:true) belongs where the welcome arrived, before notices that follow it.
  c.replayAfter = [...c.list.children].reverse().find((r) => !r.classList.contains('pending')) || 'start';

  if (first) {
    const v = viewConv();
    if (state.multi) {
      for (const r of state.rooms) if (r !== room) sendJoin(r);
    } else if (v.kind === 'room' && v.name !== room) {
      sendJoin(v.name);                 // the user picked another room while this socket was opening
      state.joinSentFor = v.name;
    }
    setStatus('connected');
    clearTimeout(state.stableTimer);
    state.stableTimer = setTimeout(() => { state.attempt = 0; }, STABLE_AFTER_MS);
    setTimeout(failUnconfirmed, UNCONFIRMED_GRACE_MS);
    if (v.kind === 'dm') askDmHistory(v);
  }
  if (c.key === state.view) { renderChrome(); afterLiveAdd(c, false, true); }
  else scheduleChrome();
  // The name box shows the name the server gave; a welcome for one more room must not
  // overwrite a new name being typed there.
  if (first || state.me !== oldMe) ui.nickInput.value = state.me || '';
  flushOutbox();
  flushReads(c);
}

function onMessage(m) {
  const c = frameRoom(m);
  if (!c) return;
  const id = typeof m.id === 'number' ? m.id : null;
  const p = matchPending(m, c.key);

  if (id !== null && !m.history && c.checkReset) {
    c.checkReset = false;
    if (id <= c.maxId) resetIds(c);
  }
  if (id !== null && c.ids.has(id)) { if (p) dropPending(p); return; }   // never show an id twice
  const newest = id !== null && id > c.maxId;
  if (id !== null) rememberId(c, id);

  const own = !!p || (state.me !== null && m.username === state.me);
  const li = messageRow(m, own);
  if (p && p.el.parentNode === c.list && (id === null || newest)) {
    p.el.replaceWith(li);
    regroup(li); regroup(li.nextElementSibling);
    forgetPending(p);
  } else {
    if (p) dropPending(p);
    // truncated (extension): a since= replay longer than the server gives starts here; the
    // messages missed before this one are not shown: say so where they would be.
    if (newest && m.history && m.truncated === true && c.replayAfter) {
      insertReplayed(c, systemRow('Only the latest messages you missed are shown here; earlier ones were skipped.', 'warn'));
    }
    if (newest && m.history && c.replayAfter) insertReplayed(c, li);
    else if (id !== null) insertById(c, li, id);
    else insertUnnumbered(c, li);
  }
  clearTyper(c, m.username);
  // A replayed message this tab had not seen (a since= recovery) is news too.
  const live = !m.history || (id !== null && c.maxIdAtWelcome > 0 && id > c.maxIdAtWelcome);
  afterLiveAdd(c, own, !!m.history);
  noteMessage(c, m, { own, live, from: m.username, text: String(m.text ?? '') });
  if (c.key !== state.view) return;
  updateOlderButton();
  if (live && !own && !m.history) announce(`${m.username}: ${m.text}`);
}

function onSystem(e) {
  if (e.event === 'presence') return onPresence(e); // big rooms: one summary for many joins/leaves
  const c = frameRoom(e);
  if (!c) return;
  const name = String(e.username ?? '');
  let text = typeof e.message === 'string' ? e.message : '';
  if (e.event === 'join') {
    if (!c.members.has(name.toLowerCase())) c.userCount += 1;
    c.members.set(name.toLowerCase(), name);
    text ||= `${name} joined`;
  } else if (e.event === 'leave') {
    c.members.delete(name.toLowerCase());
    c.userCount = Math.max(c.members.size, c.userCount - 1);
    clearTyper(c, name);
    text ||= `${name} left`;
  } else if (e.event === 'rename') {
    const old = String(e.old ?? '');
    renameEverywhere(old, name);
    text ||= `${old} is now ${name}`;
    if (state.me !== null && old === state.me) onOwnRename(old, name, e.requested);
  }
  if (text) addSystem(text, null, c.key, e.ts);
  if (c.key === state.view) renderMembers();
}

/** A rename changes the member lists of every room and the name of a DM conversation. */
function renameEverywhere(old, name) {
  for (const c of state.convs.values()) {
    if (c.kind === 'room' && c.members.delete(old.toLowerCase())) c.members.set(name.toLowerCase(), name);
  }
  clearTyperEverywhere(old);
  const from = dmKey(old);
  const to = dmKey(name);
  const dm = state.convs.get(from);
  if (dm && from !== to && !state.convs.has(to)) {
    state.convs.delete(from);
    dm.key = to;
    dm.name = name;
    state.convs.set(to, dm);
    for (const p of state.pending.values()) if (p.key === from) { p.key = to; p.priv.to = name; }
    if (state.view === from) openConv(to);
    scheduleChrome();
  } else if (dm && from === to) {
    dm.name = name;
    scheduleChrome();
  }
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
  const c = frameRoom(t);
  const name = String(t.username ?? '');
  if (!c || !name || name === state.me) return;
  if (t.stopped === true) { clearTyper(c, name); return; }   // extension: the indicator ended early
  showTyper(c, name);
}

/** A direct message (live, an echo of mine, or from the stored conversation). */
function addPrivate(pm) {
  const mine = state.me !== null && pm.from === state.me;
  const peer = String((mine ? pm.to : pm.from) ?? '?');
  const c = conv(dmKey(peer), peer);
  c.shown = true;
  const id = typeof pm.id === 'number' ? pm.id : null;
  const p = matchPendingPrivate(pm, mine);
  if (id !== null && c.ids.has(id)) { if (p) dropPending(p); return null; }
  const newest = id !== null && id > c.maxId;
  if (id !== null) rememberId(c, id);
  const li = messageRow({ id: pm.id, username: pm.from, text: pm.text, ts: pm.ts }, mine, true);
  if (p && p.el.parentNode === c.list && (id === null || newest)) {
    p.el.replaceWith(li);
    regroup(li); regroup(li.nextElementSibling);
    forgetPending(p);
  } else {
    if (p) dropPending(p);
    if (id !== null) insertById(c, li, id);
    else insertUnnumbered(c, li);
  }
  return { c, mine };
}

function onPrivate(pm) {
  const added = addPrivate(pm);
  if (!added) return;
  const { c, mine } = added;
  afterLiveAdd(c, mine, !!pm.history);
  noteMessage(c, pm, { own: mine, live: !pm.history, from: pm.from, text: String(pm.text ?? '') });
  scheduleChrome();
  if (!mine && !pm.history && c.key === state.view) announce(`${pm.from}: ${pm.text}`);
  else if (!mine && !pm.history) announce(`Direct message from ${pm.from}: ${pm.text}`);
}

/** Answer to a history request (a room's or a DM's): older messages, keeping the reader's place. */
function onHistory(h) {
  const dm = typeof h.dm === 'string';
  const c = dm ? conv(dmKey(h.dm), h.dm) : frameRoom(h);
  if (!c) return;
  const list = Array.isArray(h.messages) ? h.messages.slice() : [];
  list.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  const shown = c.key === state.view;
  const firstPage = !!c.awaitingHistory;     // a DM conversation's stored messages, asked for on opening it
  const anchor = shown && !firstPage && c.ids.size ? captureAnchor() : null;
  for (const m of list) {
    if (typeof m.id !== 'number' || c.ids.has(m.id)) continue;
    if (dm) { addPrivate({ ...m, history: true }); continue; }
    rememberId(c, m.id);
    insertById(c, messageRow(m, state.me !== null && m.username === state.me), m.id);
  }
  c.hasMore = typeof h.has_more === 'boolean' ? h.has_more : list.length >= HISTORY_PAGE;
  c.loadingOlder = false;
  c.awaitingHistory = false;
  if (!shown) return;
  updateOlderButton();                       // may hide the button: do it before restoring the place
  if (firstPage) revealUnread(c, { position: true });   // now it can be read
  else if (anchor) restoreAnchor(anchor);
}

function onUsers(u) {
  const c = frameRoom(u);
  if (!c) return;
  c.members.clear();
  for (const n of Array.isArray(u.users) ? u.users : []) c.members.set(String(n).toLowerCase(), String(n));
  c.userCount = typeof u.user_count === 'number' ? u.user_count : c.members.size;
  if (c.key === state.view) renderMembers();
}

/** Big rooms coalesce joins and leaves into periodic presence summaries. */
function onPresence(p) {
  const c = frameRoom(p);
  if (!c) return;
  const joined = Array.isArray(p.joined) ? p.joined.map(String) : [];
  const left = Array.isArray(p.left) ? p.left.map(String) : [];
  for (const n of joined) c.members.set(n.toLowerCase(), n);
  for (const n of left) { c.members.delete(n.toLowerCase()); clearTyper(c, n); }
  if (typeof p.count === 'number') c.userCount = p.count;
  const parts = [];
  if (joined.length) parts.push(`${nameSummary(joined)} joined`);
  if (left.length) parts.push(`${nameSummary(left)} left`);
  if (parts.length) addSystem(parts.join(' · '), 'presence', c.key);
  if (c.key === state.view) renderMembers();
}

function nameSummary(names) {
  if (names.length <= 3) return names.join(', ');
  return `${names.slice(0, 3).join(', ')} and ${names.length - 3} others`;
}

/** The socket left a room (answer to leave). */
function onLeft(f) {
  const c = typeof f.room === 'string' ? state.convs.get(roomKey(f.room)) : null;
  if (c) { c.joined = false; c.joinSent = false; }
}

/** The server's DM conversations of this person (sent on connect when it keeps DMs). */
function onDms(f) {
  state.dmHistory = true;
  state.readSync = true;
  for (const d of Array.isArray(f.conversations) ? f.conversations : []) {
    if (typeof d.with !== 'string') continue;
    const c = conv(dmKey(d.with), d.with);
    c.shown = true;
    if (typeof d.read_id === 'number' && d.read_id >= c.readId) {
      c.readId = d.read_id;
      c.serverReadId = d.read_id;
      if (typeof d.unread === 'number') { c.unread = d.unread; c.mentions = d.unread; }
    }
  }
  scheduleChrome();
  const v = viewConv();
  if (v.kind === 'dm') askDmHistory(v);
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
    case 'unavailable': return 'The server could not reach its message store just now, so your message was not sent. Retry it in a moment.';
    case 'no_such_user':
      return priv ? `Nobody named ${priv.to} is connected, so your private message was not sent.`
        : 'Nobody by that name is connected.';
    case 'not_stored': return 'Your message was delivered, but the server could not keep it in the history.';
    case 'not_in_room': return 'You are not in that room (any more), so the server refused it.';
    case 'too_many_rooms': return 'You are in as many rooms as the server allows. Leave one before joining another.';
    case 'internal': return detail ? `The server hit an internal error (${detail}).` : 'The server hit an internal error.';
    case 'unknown_type': return detail ? `The server does not support that request (${detail}).` : 'The server does not support that request.';
    case 'bad_request': return detail ? `The server refused a request: ${detail}.` : 'The server refused a request.';
    default: return detail ? `The server refused a request (${code}): ${detail}.` : `The server refused a request (${code}).`;
  }
}

/** A join over the server's room limit: the room that was being joined goes off the list. */
function joinRefused() {
  const c = [...state.convs.values()].find((x) => x.kind === 'room' && x.joinSent && !x.joined);
  if (!c) return;
  state.rooms = state.rooms.filter((r) => r !== c.name);
  state.convs.delete(c.key);
  if (state.view === c.key) openConv(roomKey(state.rooms[0] || 'general'));
  else scheduleChrome();
}

function onError(e) {
  const code = typeof e.code === 'string' ? e.code : 'error';
  const serverText = typeof e.message === 'string' ? e.message : '';
  if (code === 'unknown_type' && optionalUnsupported(serverText)) return;
  if (code === 'too_many_rooms') joinRefused();
  let failed = null;
  const mine = typeof e.client_id === 'string' && state.pending.has(e.client_id);
  if (FAILED_BECAUSE[code] || mine) {
    failed = failOldestSent(code, FAILED_BECAUSE[code] || 'the server refused it', e.retry_after_ms, e.client_id);
  }
  const text = errorSentence(code, serverText, e.retry_after_ms, failed && failed.priv);
  notice(text, { kind: 'error', key: `error:${code}`, code });
}

/**
 * Frames that need a newer server or a plugin (typing, history, private, read, rooms,
 * search, leave) are answered unknown_type by a server without them. Say so once, in
 * plain words where the person asked for something, and stop using that feature.
 * Returns true when the error was one of these.
 */
function optionalUnsupported(serverText) {
  const named = serverText.match(/'([a-z_]+)'/);
  let type = named ? named[1] : null;
  if (!type) {
    // A server that does not name the type: guess from what was just sent.
    if (Date.now() - state.lastTypingFrameAt < 1500) type = 'typing';
    else if (viewConv().loadingOlder) type = 'history';
  }
  switch (type) {
    case 'typing':
      if (!state.unsupported.has('typing')) {
        notice('This server does not relay typing indicators (it has no typing plugin).', { kind: 'info', key: 'unsupported:typing', code: 'unknown_type' });
      }
      break;
    case 'history':
      for (const c of state.convs.values()) { c.loadingOlder = false; c.hasMore = false; c.awaitingHistory = false; }
      updateOlderButton();
      if (!state.unsupported.has('history')) {
        notice('This server keeps no message history, so older messages cannot be loaded (it has no history plugin).', { kind: 'info', key: 'unsupported:history', code: 'unknown_type' });
      }
      break;
    case 'private': privateUnsupported(); return true;
    case 'rooms': directoryUnsupported(); break;
    case 'search': searchUnsupported(); break;
    case 'read': case 'leave': break;
    default: return false;
  }
  state.unsupported.add(type);
  return true;
}

/** ack (extension): a plugin handled our message without sending it to the room: it is done. */
function onAck(a) {
  const p = typeof a.client_id === 'string' ? state.pending.get(a.client_id) : null;
  if (p) dropPending(p);
}

/**
 * gap (cluster mode, docs/protocol.md "Many nodes"): what a replay cannot give.
 * not_retained: messages from..to are no longer kept, so the replay that follows starts
 * later: said where it happens, never a silent hole. reset: the room's record started
 * over (its ids begin again after last_id): forget the ids shown so far, as for a
 * welcome whose last_id went backwards (which already did it when it came first).
 */
function onGap(g) {
  const c = frameRoom(g);
  if (!c) return;
  if (g.reason === 'reset') {
    const last = typeof g.last_id === 'number' ? g.last_id : 0;
    if (c.maxId > last) resetIds(c);
  } else {
    const n = typeof g.from === 'number' && typeof g.to === 'number' && g.to >= g.from ? g.to - g.from + 1 : 0;
    const what = n === 1 ? '1 earlier message is' : n > 1 ? `${n} earlier messages are` : 'Some earlier messages are';
    const row = systemRow(`${what} no longer kept by the server and cannot be shown here.`, 'warn');
    row.classList.add('gap');
    if (c.replayAfter) insertReplayed(c, row);   // before the replay that follows it
    else insertUnnumbered(c, row);
  }
  if (c.key === state.view) afterLiveAdd(c, false, true);
  else scheduleChrome();
}

const HANDLERS = {
  ack: onAck, gap: onGap,
  welcome: onWelcome, message: onMessage, system: onSystem, typing: onTyping,
  private: onPrivate, history: onHistory, users: onUsers, presence: onPresence, error: onError,
  left: onLeft, read: onRead, dms: onDms, rooms: renderDirectory, search: renderResults,
};

