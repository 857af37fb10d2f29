// Typing indicators, per room: who is typing in each room (shown for the view), and
// our own typing frames.
import { ui } from './dom.js';
import { state, viewConv } from './state.js';
import { sendFrame } from './connection.js';

const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 3000;

/** name stopped typing in conversation c. */
export function clearTyper(c, name) {
  if (!c.typers.has(name)) return;
  clearTimeout(c.typers.get(name));
  c.typers.delete(name);
  if (c.key === state.view) renderTyping();
}

/** name stopped typing everywhere (left, renamed, disconnected). */
export function clearTyperEverywhere(name) {
  for (const c of state.convs.values()) clearTyper(c, name);
}

export function clearAllTypers() {
  for (const c of state.convs.values()) {
    for (const t of c.typers.values()) clearTimeout(t);
    c.typers.clear();
  }
  renderTyping();
}

/** Shows name as typing in c for about 3 s after its last typing frame. */
export function showTyper(c, name) {
  clearTimeout(c.typers.get(name));
  c.typers.set(name, setTimeout(() => clearTyper(c, name), TYPING_SHOW_MS));
  if (c.key === state.view) renderTyping();
}

/** The indicator line of the view. */
export function renderTyping() {
  const names = [...viewConv().typers.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  ui.typing.textContent = text;
}

/** Sends a typing frame for what is in the message box (rooms only), at most once every 2 s. */
export function maybeSendTyping() {
  const v = ui.input.value;
  const c = viewConv();
  if (c.kind !== 'room' || !c.joined) return;
  if (!v.trim() || v.startsWith('/') || state.status !== 'connected' || state.unsupported.has('typing')) return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSent = now;
  sendFrame({ type: 'typing', room: c.name });
}
