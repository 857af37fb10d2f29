// Typing indicators: who is typing in the room shown, and our own typing frames.
import { ui } from './dom.js';
import { state } from './state.js';
import { sendFrame } from './connection.js';

const TYPING_SEND_EVERY_MS = 2000;
const TYPING_SHOW_MS = 3000;

export function clearTyper(name) {
  if (!state.typers.has(name)) return;
  clearTimeout(state.typers.get(name));
  state.typers.delete(name);
  renderTyping();
}

export function clearTypers() {
  for (const t of state.typers.values()) clearTimeout(t);
  state.typers.clear();
  renderTyping();
}

/** Shows name as typing for about 3 s after its last typing frame. */
export function showTyper(name) {
  clearTimeout(state.typers.get(name));
  state.typers.set(name, setTimeout(() => clearTyper(name), TYPING_SHOW_MS));
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.keys()];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  ui.typing.textContent = text;
}

/** Sends a typing frame for what is in the message box, at most once every 2 s. */
export function maybeSendTyping() {
  const v = ui.input.value;
  if (!v.trim() || v.startsWith('/') || state.status !== 'connected' || state.unsupported.has('typing')) return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
  state.lastTypingSent = now;
  sendFrame({ type: 'typing' });
}
