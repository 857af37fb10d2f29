// Outgoing messages, to rooms and to people: shown at once as pending, confirmed by
// their echo (client_id), queued while offline, offered for retry when refused or lost.
import { state, conv, dmKey } from './state.js';
import { el, byteLength, sameName } from './util.js';
import { messageRow } from './render.js';
import { notice } from './notices.js';
import { scrollToBottom } from './scroll.js';
import { sendFrame } from './connection.js';

const PENDING_TEXT = {
  queued: 'waiting for connection…', sent: 'sending…', unconfirmed: 'checking delivery…', failed: 'not sent',
};

function pendingRow(p) {
  const text = p.priv ? p.priv.text : p.frame.text;
  const li = messageRow({ username: state.me ?? 'you', text, ts: Date.now() }, true, !!p.priv);
  li.classList.add('pending');
  li.querySelector('.meta').append(el('span', 'pending-state'));
  return li;
}

/** Moves a pending message to status (queued | sent | unconfirmed | failed), with an optional reason. */
export function setPendingStatus(p, status, why) {
  p.status = status;
  p.el.classList.toggle('failed', status === 'failed');
  const st = p.el.querySelector('.pending-state');
  st.textContent = why ? `${PENDING_TEXT[status]}: ${why}` : PENDING_TEXT[status];
  let retry = p.el.querySelector('.retry-btn');
  if (status === 'failed' && !retry) {
    retry = el('button', 'link-btn retry-btn', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', () => resendPending(p));
    st.after(retry);
  } else if (status !== 'failed' && retry) {
    retry.remove();
  }
}

/** A name as /msg takes it: in double quotes when it has white space. */
const msgName = (name) => (/\s/.test(name) ? `"${name}"` : name);

/** The frame that carries a direct message: `private`, or `/msg` text for a server without it. */
function privateFrame(to, text, cid) {
  if (!state.unsupported.has('private')) return { type: 'private', to, text, client_id: cid };
  const room = state.rooms.find((r) => conv(`#${r}`).joined);
  return { type: 'message', text: `/msg ${msgName(to)} ${text}`, client_id: cid, ...(room ? { room } : {}) };
}

/** True when p can go out now (connected; a room message needs its room joined). */
function canSend(p) {
  if (state.status !== 'connected' || !state.welcomed) return false;
  return p.priv ? true : conv(p.key).joined;
}

function tooLarge(text) {
  const max = state.limits.max_message_bytes;
  if (typeof max === 'number' && byteLength(text) > max) {
    notice(`That message is ${byteLength(text)} bytes; the limit is ${max}. Shorten it before sending.`, { key: 'size' });
    return true;
  }
  return false;
}

function enqueue(p) {
  p.el = pendingRow(p);
  state.pending.set(p.cid, p);
  conv(p.key).list.append(p.el);
  setPendingStatus(p, 'queued');
  if (canSend(p) && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  state.lastTypingSent = 0;   // a message ends typing: the next keystroke announces it again
  if (p.key === state.view) scrollToBottom();
  return true;
}

/** Queues or sends text to the conversation `key` (a room, or a person for a DM view). */
export function sendChat(text, key = state.view) {
  const c = conv(key);
  if (c.kind === 'dm') return sendPrivate(c.name, text);
  if (tooLarge(text)) return false;
  const cid = `c${++state.clientSeq}`;
  return enqueue({ cid, key, frame: { type: 'message', text, client_id: cid, room: c.name }, priv: null, status: 'queued', el: null });
}

/** Queues or sends a direct message to `to`; it shows in the DM conversation with them. */
export function sendPrivate(to, text) {
  if (tooLarge(text)) return false;
  const cid = `c${++state.clientSeq}`;
  const key = dmKey(to);
  conv(key, to);
  return enqueue({ cid, key, frame: privateFrame(to, text, cid), priv: { to, text }, status: 'queued', el: null });
}

function resendPending(p) {
  if (p.priv) p.frame = privateFrame(p.priv.to, p.priv.text, p.cid);
  if (canSend(p) && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  else setPendingStatus(p, 'queued');
}

/** After a welcome, send what was queued while offline (or while its room was being joined), in order. */
export function flushOutbox() {
  for (const p of state.pending.values()) {
    if (p.status === 'queued' && canSend(p) && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  }
}

/** The server has no `private` frame: send the direct messages in flight again as /msg text. */
export function privateUnsupported() {
  state.unsupported.add('private');
  for (const p of state.pending.values()) if (p.priv && p.status === 'sent') resendPending(p);
}

/** Finds the pending room message an echo acknowledges (client_id, or a replayed copy of our text). */
export function matchPending(m, key) {
  if (typeof m.client_id === 'string' && state.pending.has(m.client_id)) return state.pending.get(m.client_id);
  if (m.history && m.username === state.me) {
    for (const p of state.pending.values()) {
      if (p.status === 'unconfirmed' && !p.priv && p.key === key && p.frame.text.trim() === String(m.text).trim()) return p;
    }
  }
  return null;
}

/** The pending direct message a private frame acknowledges (mine: we sent it). */
export function matchPendingPrivate(pm, mine) {
  if (typeof pm.client_id === 'string' && state.pending.has(pm.client_id)) return state.pending.get(pm.client_id);
  if (!mine) return null;
  for (const p of state.pending.values()) {
    if (p.priv && (p.status === 'sent' || p.status === 'unconfirmed') && sameName(p.priv.to, pm.to) &&
        p.priv.text.trim() === String(pm.text).trim()) return p;
  }
  return null;
}

/**
 * An error answers a message: the one whose client_id it carries (chatd says which), else the
 * oldest in flight (frames are answered in order). Mark it failed with why. Returns that pending
 * message (borrowed), or null when none was in flight.
 */
export function failOldestSent(code, why, retryAfter, cid) {
  const sent = [...state.pending.values()].filter((p) => p.status === 'sent');
  const p = (typeof cid === 'string' && state.pending.get(cid))
    || (code === 'no_such_user' ? sent.find((x) => x.priv) : null) || sent[0];
  if (!p) return null;
  setPendingStatus(p, 'failed', why);
  if (code === 'rate_limited' && typeof retryAfter === 'number') {
    const btn = p.el.querySelector('.retry-btn');
    if (btn) { btn.disabled = true; setTimeout(() => { btn.disabled = false; }, retryAfter); }
  }
  return p;
}

/** Sent messages wait for the replay after a reconnect to confirm them. */
export function markSentUnconfirmed() {
  for (const p of state.pending.values()) if (p.status === 'sent') setPendingStatus(p, 'unconfirmed');
}

/** Unconfirmed messages that no replay acknowledged are offered for a manual retry. */
export function failUnconfirmed() {
  if (state.status !== 'connected') return;
  for (const p of state.pending.values()) {
    if (p.status === 'unconfirmed') setPendingStatus(p, 'failed', 'the connection dropped before the server confirmed it');
  }
}

export function forgetPending(p) { state.pending.delete(p.cid); }
export function dropPending(p) { p.el.remove(); forgetPending(p); }
