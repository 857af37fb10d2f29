// Outgoing chat messages: shown at once as pending, confirmed by their echo
// (client_id), queued while offline, offered for retry when refused or lost.
import { state, current } from './state.js';
import { el, byteLength, sameName } from './util.js';
import { messageRow, privateRow } from './render.js';
import { notice } from './notices.js';
import { scrollToBottom } from './scroll.js';
import { sendFrame } from './connection.js';

const PENDING_TEXT = {
  queued: 'waiting for connection…', sent: 'sending…', unconfirmed: 'checking delivery…', failed: 'not sent',
};

function pendingRow(p) {
  const li = p.priv
    ? privateRow(state.me ?? 'you', p.priv.to, p.priv.text, Date.now(), true)
    : messageRow({ username: state.me ?? 'you', text: p.frame.text, ts: Date.now() }, true);
  li.classList.add('pending');
  const st = el('span', 'pending-state');
  li.querySelector('.meta').append(st);
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

/** Queues or sends a chat message (priv: {to, text} for /msg); it shows as pending until its echo arrives. */
export function sendChat(text, priv) {
  const max = state.limits.max_message_bytes;
  if (typeof max === 'number' && byteLength(text) > max) {
    notice(`That message is ${byteLength(text)} bytes; the limit is ${max}. Shorten it before sending.`, { key: 'size' });
    return false;
  }
  const cid = `c${++state.clientSeq}`;
  const p = { cid, frame: { type: 'message', text, client_id: cid }, room: state.room, priv, status: 'queued', el: null };
  p.el = pendingRow(p);
  state.pending.set(cid, p);
  current().list.append(p.el);
  setPendingStatus(p, 'queued');
  if (state.status === 'connected' && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  state.lastTypingSent = 0;   // a message ends typing: the next keystroke announces it again
  scrollToBottom();
  return true;
}

function resendPending(p) {
  if (state.status === 'connected' && p.room === state.room && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  else setPendingStatus(p, 'queued');
}

/** After a welcome, send what was queued for that room while offline, in order. */
export function flushOutbox(room) {
  for (const p of state.pending.values()) {
    if (p.status === 'queued' && p.room === room && sendFrame(p.frame)) setPendingStatus(p, 'sent');
  }
}

/** Finds the pending message an echo acknowledges (client_id, or a replayed copy of our text). */
export function matchPending(m) {
  if (typeof m.client_id === 'string' && state.pending.has(m.client_id)) return state.pending.get(m.client_id);
  if (m.history && m.username === state.me) {
    for (const p of state.pending.values()) {
      if (p.status === 'unconfirmed' && !p.priv && p.frame.text.trim() === String(m.text).trim()) return p;
    }
  }
  return null;
}

/** The pending /msg a private frame acknowledges (mine: we sent it). */
export function matchPendingPrivate(pm, mine) {
  if (typeof pm.client_id === 'string' && state.pending.has(pm.client_id)) return state.pending.get(pm.client_id);
  if (!mine) return null;
  for (const p of state.pending.values()) {
    if (p.priv && p.status === 'sent' && sameName(p.priv.to, pm.to) && p.priv.text.trim() === String(pm.text).trim()) return p;
  }
  return null;
}

/**
 * An error answers the oldest in-flight message (frames are answered in order): mark it failed
 * with why. Returns that pending message (borrowed), or null when none was in flight.
 */
export function failOldestSent(code, why, retryAfter) {
  const sent = [...state.pending.values()].filter((p) => p.status === 'sent');
  const p = (code === 'no_such_user' ? sent.find((x) => x.priv) : null) || sent[0];
  if (!p) return null;
  setPendingStatus(p, 'failed', why);
  if (code === 'rate_limited' && typeof retryAfter === 'number') {
    const btn = p.el.querySelector('.retry-btn');
    if (btn) { btn.disabled = true; setTimeout(() => { btn.disabled = false; }, retryAfter); }
  }
  return p;
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
