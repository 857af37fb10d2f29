// Message rows: building them (message, private, system) and keeping a room's log
// in id order, each id at most once.
import { state, roomData, current } from './state.js';
import { el, timeEl, avatarClass } from './util.js';
import { nearBottom, afterLiveAdd } from './scroll.js';

const GROUP_WITHIN_MS = 5 * 60 * 1000;

/** Marks a row as a continuation when the row before it is by the same author shortly before. */
export function regroup(li) {
  if (!li || !li.classList.contains('msg') || li.classList.contains('private')) return;
  const prev = li.previousElementSibling;
  const cont = !!prev && prev.classList.contains('msg') && !prev.classList.contains('private') &&
    prev.dataset.author === li.dataset.author &&
    Math.abs(Number(li.dataset.ts) - Number(prev.dataset.ts)) < GROUP_WITHIN_MS;
  li.classList.toggle('cont', cont);
}

/**
 * The text of an action ("/me waves"), as shown: "* Alice waves", or null for a plain message.
 * The me plugin sends "* Alice waves" already; without it the server relays "/me waves" as is.
 */
export function actionText(name, text) {
  if (text.startsWith('/me ') && text.slice(4).trim()) return `* ${name} ${text.slice(4).trim()}`;
  if (text.startsWith(`* ${name} `)) return text;
  return null;
}

/** One chat message row (Slack-like: avatar, name, time, text). */
export function messageRow(m, own) {
  const name = String(m.username ?? '?');
  const action = actionText(name, String(m.text ?? ''));
  const li = el('li', `msg${own ? ' own' : ''}${action ? ' action' : ''}`);
  li.dataset.author = name;
  li.dataset.ts = String(typeof m.ts === 'number' ? m.ts : Date.now());
  if (typeof m.id === 'number') li.dataset.id = String(m.id);

  const av = el('span', avatarClass(name), [...name][0]?.toUpperCase() ?? '?');
  av.setAttribute('aria-hidden', 'true');
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  meta.append(el('span', 'author', name));
  if (own) meta.append(el('span', 'you-tag', '(you)'));
  meta.append(timeEl(m.ts));
  body.append(meta, el('div', 'text', action ?? m.text ?? ''));
  li.append(av, body);
  return li;
}

/** A private message row: "→ bob (private)" or "alice → you (private)". */
export function privateRow(from, to, text, ts, mine) {
  const li = el('li', mine ? 'msg private own' : 'msg private');
  li.dataset.author = String(from);
  li.dataset.ts = String(typeof ts === 'number' ? ts : Date.now());
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  const label = mine ? `→ ${to} (private)` : `${from} → you (private)`;
  meta.append(el('span', 'author', label), timeEl(ts));
  body.append(meta, el('div', 'text', text ?? ''));
  const av = el('span', 'avatar av-private', '✉');
  av.setAttribute('aria-hidden', 'true');
  li.append(av, body);
  return li;
}

export function systemRow(text, kind, ts) {
  const li = el('li', kind ? `sys ${kind}` : 'sys');
  li.append(el('span', 'sys-text', text), timeEl(ts));
  return li;
}

/** Appends a system notice to a room's log (the current room by default). */
export function addSystem(text, kind, room, ts) {
  const d = room ? roomData(room) : current();
  const wasNear = nearBottom();
  d.list.append(systemRow(text, kind, ts));
  if (d.room === state.room) afterLiveAdd(wasNear);
}

/** Inserts a row with a message id in id order (call after rememberId); pending rows stay at the tail. */
export function insertById(d, li, id) {
  if (id >= d.maxId) {
    const firstPending = d.list.querySelector(':scope > .pending');
    d.list.insertBefore(li, firstPending);
  } else {
    let after = null;
    for (const row of d.list.children) {
      if (row.dataset.id && Number(row.dataset.id) > id) { after = row; break; }
    }
    d.list.insertBefore(li, after);
  }
  regroup(li);
  regroup(li.nextElementSibling);
}

/** A replayed row newer than all shown: after the previous replayed row (or the welcome point). */
export function insertReplayed(d, li) {
  if (d.replayAfter === 'start' || !d.replayAfter.isConnected) d.list.prepend(li);
  else d.replayAfter.after(li);
  d.replayAfter = li;
  regroup(li);
  regroup(li.nextElementSibling);
}

export function rememberId(d, id) {
  d.ids.add(id);
  if (id > d.maxId) d.maxId = id;
  if (id < d.minId) d.minId = id;
}

/** The server's ids went backwards (restart without stored history): start a new id space. */
export function resetIds(d) {
  for (const row of d.list.querySelectorAll(':scope > [data-id]')) delete row.dataset.id;
  d.ids.clear(); d.minId = Infinity; d.maxId = 0; d.hasMore = false;
  d.list.append(systemRow('The server restarted without its message history; older messages above may be out of date.', 'warn'));
}

/** Own-message styling follows the current server-given name. */
export function restyleOwn() {
  for (const d of state.roomData.values()) {
    for (const li of d.list.querySelectorAll(':scope > .msg:not(.private):not(.pending)')) {
      const own = li.dataset.author === state.me;
      li.classList.toggle('own', own);
      const tag = li.querySelector('.you-tag');
      if (own && !tag) li.querySelector('.author').after(el('span', 'you-tag', '(you)'));
      if (!own && tag) tag.remove();
    }
  }
}
