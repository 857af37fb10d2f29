// The WebSocket: connecting, the status in the top bar, reconnecting with
// backoff, explaining close codes, sending frames.
import { ui } from './dom.js';
import { state, roomConv, viewConv } from './state.js';
import { notice } from './notices.js';
import { addSystem } from './render.js';
import { clearAllTypers } from './typing.js';
import { markSentUnconfirmed } from './outbox.js';
import { updateComposer } from './composer.js';
import { handleFrame } from './frames.js';

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
export const STABLE_AFTER_MS = 10000;      // a connection this old resets the backoff

const CLOSE_TEXT = {
  1000: 'The connection was closed.',
  1001: 'The server is restarting. Reconnecting…',
  1003: 'The server refused a frame it cannot read (binary data).',
  1006: 'The connection to the server was lost.',
  1007: 'The server refused a message that was not valid UTF-8.',
  1008: 'The server closed the connection for a policy violation (for example, sending too fast).',
  1009: 'The server closed the connection because a message was too large.',
  1011: 'The server hit an internal error.',
  1012: 'This server node had to stop serving (it lost its place in the cluster). Reconnecting…',
  1013: 'Your connection was too slow to keep up with the room. Reconnecting…',
};

/** Shows connected / connecting / offline (with a countdown to the next try) in the top bar. */
export function setStatus(status) {
  state.status = status;
  ui.conn.dataset.state = status;
  ui.retryNow.hidden = status !== 'offline';
  clearInterval(state.countdownTimer);
  if (status === 'offline') {
    const tick = () => {
      const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
      ui.connText.textContent = s > 0 ? `Offline — retrying in ${s} s` : 'Offline — retrying…';
    };
    tick();
    state.countdownTimer = setInterval(tick, 500);
  } else {
    ui.connText.textContent = status === 'connected' ? 'Connected' : 'Connecting…';
  }
  updateComposer();
}

/** The room a new socket opens with: the one shown, else the first joined, else the default. */
export function firstRoom() {
  const v = viewConv();
  if (v.kind === 'room') return v.name;
  return state.rooms[0] || 'general';
}

/**
 * /ws/ROOM?name=&session=&multi=1&since=: multi=1 asks for many rooms on the socket (a
 * server that does not know it ignores it, and its welcome says no multi), the session
 * makes this tab one person with the other tabs of this browser.
 */
function socketUrl() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const room = firstRoom();
  const params = [];
  const name = state.wantedName || state.me;
  if (name) params.push(`name=${encodeURIComponent(name)}`);
  if (state.session) params.push(`session=${encodeURIComponent(state.session)}`);
  params.push('multi=1');
  const c = roomConv(room);
  if (c.maxId > 0) params.push(`since=${c.maxId}`);
  return `${proto}://${location.host}/ws/${room}?${params.join('&')}`;
}

/** Opens a new socket to the wanted room (closing any old one). */
export function connect() {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  if (state.ws) { const old = state.ws; state.ws = null; try { old.close(1000); } catch { /* ignore */ } }
  state.welcomed = false;
  state.joinSentFor = firstRoom();
  for (const c of state.convs.values()) { c.joined = false; c.joinSent = false; }
  setStatus('connecting');
  let ws;
  try { ws = new WebSocket(socketUrl()); } catch (err) { notice(`Cannot connect: ${err.message}`, { key: 'connection' }); scheduleReconnect(); return; }
  state.ws = ws;
  ws.addEventListener('message', (ev) => { if (ws === state.ws) handleFrame(ev.data); });
  ws.addEventListener('close', (ev) => { if (ws === state.ws) onClose(ev); });
}

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). */
function scheduleReconnect() {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
  const delay = Math.random() * ceiling;
  state.attempt = Math.min(state.attempt + 1, 30);
  state.retryAt = Date.now() + delay;
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(connect, delay);
  setStatus('offline');
}

function onClose(ev) {
  const wasWelcomed = state.welcomed;
  state.ws = null;
  state.welcomed = false;
  for (const c of state.convs.values()) { c.joined = false; c.joinSent = false; }
  clearTimeout(state.stableTimer);
  clearAllTypers();
  markSentUnconfirmed();   // sent but unacknowledged: the replay after the reconnect may confirm them
  const why = CLOSE_TEXT[ev.code] || `The connection closed (code ${ev.code}).`;
  if (wasWelcomed || ev.code !== 1006) {
    addSystem(ev.reason ? `${why} (${ev.reason})` : why, 'warn');
    if ([1003, 1007, 1008, 1009, 1011].includes(ev.code)) notice(why, { key: 'connection' });
  }
  scheduleReconnect();
}

/** Sends one frame as JSON; false when the socket is not open. */
export function sendFrame(frame) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
  state.ws.send(JSON.stringify(frame));
  if (frame.type === 'typing') state.lastTypingFrameAt = Date.now();
  return true;
}
