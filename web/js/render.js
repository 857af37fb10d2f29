// Message rows: building them (message, direct message, system, divider) and keeping
// a conversation's log in id order, each id at most once.
import { state, conv } from './state.js';
import { el, timeEl, avatarClass } from './util.js';
import { renderRich, mentions } from './text.js';
import { afterLiveAdd } from './scroll.js';

const GROUP_WITHIN_MS = 5 * 60 * 1000;

/**
 * Marks a row as a continuation when the row before it is by the same author shortly before.
 * A pending row never is one: its meta line (hidden in a continuation) holds its state and Retry.
 */
export function regroup(li) {
  if (!li || !li.classList.contains('msg')) return;
  const prev = li.previousElementSibling;
  const cont = !!prev && !li.classList.contains('pending') && prev.classList.contains('msg') && !prev.classList.contains('action') &&
    !li.classList.contains('action') && prev.dataset.author === li.dataset.author &&
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

/**
 * One chat message row (Slack-like: avatar, name, time, text with links and code).
 * m: {id, username, text, ts}; own: sent by me; dm: a direct message row.
 */
export function messageRow(m, own, dm = false) {
  // notice (extension): a plugin's notice to the room, written by no person
  const notice = m.notice === true;
  const name = notice ? 'Notice' : String(m.username ?? '?');
  const text = String(m.text ?? '');
  const action = actionText(name, text);
  const mentioned = !own && !dm && state.me !== null && mentions(text, state.me);
  let cls = 'msg';
  if (own) cls += ' own';
  if (dm) cls += ' private';
  if (action) cls += ' action';
  if (mentioned) cls += ' mentioned';
  if (notice) cls += ' notice';
  const li = el('li', cls);
  li.dataset.author = name;
  li.dataset.ts = String(typeof m.ts === 'number' ? m.ts : Date.now());
  if (typeof m.id === 'number') li.dataset.id = String(m.id);

  const av = el('span', avatarClass(name), notice ? 'i' : ([...name][0]?.toUpperCase() ?? '?'));
  av.setAttribute('aria-hidden', 'true');
  const body = el('div', 'body');
  const meta = el('div', 'meta');
  meta.append(el('span', 'author', name));
  if (own) meta.append(el('span', 'you-tag', '(you)'));
  meta.append(timeEl(m.ts));
  const textEl = el('div', 'text');
  if (action) textEl.textContent = action;
  else renderRich(textEl, text, own ? null : state.me);
  body.append(meta, textEl);
  li.append(av, body);
  return li;
}

export function systemRow(text, kind, ts) {
  const li = el('li', kind ? `sys ${kind}` : 'sys');
  li.append(el('span', 'sys-text', text), timeEl(ts));
  return li;
}

/** Appends a system notice to a conversation's log (the one shown by default). */
export function addSystem(text, kind, key, ts) {
  const c = conv(key ?? state.view);
  c.list.append(systemRow(text, kind, ts));
  if (c.key === state.view) afterLiveAdd(c, false, true);
}

/** The first pending row of a log (pending rows stay at the tail), or null. */
function firstPending(c) {
  const last = c.list.lastElementChild;
  if (!last || !last.classList.contains('pending')) return null;
  return c.list.querySelector(':scope > .pending');
}

/** Inserts a row with a message id in id order (call after rememberId); pending rows stay at the tail. */
export function insertById(c, li, id) {
  if (id >= c.maxId) {
    c.list.insertBefore(li, firstPending(c));
  } else {
    let after = null;
    for (const row of c.list.children) {
      if (row.dataset.id && Number(row.dataset.id) > id) { after = row; break; }
    }
    c.list.insertBefore(li, after);
  }
  regroup(li);
  regroup(li.nextElementSibling);
}

/** Inserts a row without an id before the pending tail. */
export function insertUnnumbered(c, li) {
  c.list.insertBefore(li, firstPending(c));
  regroup(li);
}

/** A replayed row newer than all shown: after the previous replayed row (or the welcome point). */
export function insertReplayed(c, li) {
  if (c.replayAfter === 'start' || c.replayAfter.parentNode !== c.list) c.list.prepend(li);
  else c.replayAfter.after(li);
  c.replayAfter = li;
  regroup(li);
  regroup(li.nextElementSibling);
}

export function rememberId(c, id) {
  c.ids.add(id);
  if (id > c.maxId) c.maxId = id;
  if (id < c.minId) c.minId = id;
}

/** The server's ids went backwards (restart without stored history): start a new id space. */
export function resetIds(c) {
  for (const row of c.list.querySelectorAll(':scope > [data-id]')) delete row.dataset.id;
  c.ids.clear(); c.minId = Infinity; c.maxId = 0; c.hasMore = false; c.readId = 0;
  c.list.append(systemRow('The server restarted without its message history; older messages above may be out of date.', 'warn'));
}

/** Own-message styling follows the current server-given name. */
export function restyleOwn() {
  for (const c of state.convs.values()) {
    for (const li of c.list.querySelectorAll(':scope > .msg:not(.pending)')) {
      const own = li.dataset.author === state.me;
      li.classList.toggle('own', own);
      const tag = li.querySelector('.you-tag');
      if (own && !tag) li.querySelector('.author').after(el('span', 'you-tag', '(you)'));
      if (!own && tag) tag.remove();
    }
  }
}
