// Searching the room shown, through the history plugin ({"type":"search"}): results
// in a panel above the conversation; a result that is loaded can be jumped to.
import { ui } from './dom.js';
import { state, viewConv } from './state.js';
import { el } from './util.js';
import { messageRow } from './render.js';
import { sendFrame } from './connection.js';
import { notice } from './notices.js';

const SEARCH_LIMIT = 20;
let asked = null;   // { room, q } of the search in flight

/**
 * What a person types, as a full-text query the history plugin takes (FTS5): every word
 * must match, each one quoted so that punctuation ("don't", "a-b", "C++") is no syntax;
 * a trailing * keeps meaning "starts with".
 */
export function ftsQuery(typed) {
  return typed.split(/\s+/).filter(Boolean).map((w) => {
    const prefix = w.length > 1 && w.endsWith('*');
    const word = prefix ? w.slice(0, -1) : w;
    return `"${word.replace(/"/g, '""')}"${prefix ? '*' : ''}`;
  }).join(' ');
}

/** The search form was submitted. */
export function onSearchSubmit(ev) {
  ev.preventDefault();
  const q = ui.searchInput.value.trim();
  const v = viewConv();
  if (!q || v.kind !== 'room') return;
  if (state.unsupported.has('search')) { searchUnsupported(); return; }
  asked = { room: v.name, q };
  if (!sendFrame({ type: 'search', room: v.name, q: ftsQuery(q), limit: SEARCH_LIMIT })) {
    notice('Not connected: search again once the connection is back.', { key: 'search' });
    return;
  }
  ui.searchSummary.textContent = `Searching #${v.name} for “${q}”…`;
  ui.searchResults.replaceChildren();
  ui.searchPanel.hidden = false;
}

export function closeSearch() {
  ui.searchPanel.hidden = true;
  ui.searchResults.replaceChildren();
  asked = null;
}

/** The server cannot search (no history plugin). */
export function searchUnsupported() {
  ui.searchPanel.hidden = false;
  ui.searchResults.replaceChildren();
  ui.searchSummary.textContent = 'This server cannot search: it keeps no message history.';
}

/** Answer to a search: the matching messages, newest first, each one a button to it when loaded. */
export function renderResults(f) {
  if (!asked) return;
  const room = typeof f.room === 'string' ? f.room : asked.room;
  const q = asked.q;   // as typed (the frame carries the query as sent)
  const found = Array.isArray(f.messages) ? f.messages.slice().sort((a, b) => (b.id ?? 0) - (a.id ?? 0)) : [];
  const rows = found.map((m) => {
    const li = messageRow(m, state.me !== null && m.username === state.me);
    li.classList.add('result');
    li.tabIndex = 0;
    li.addEventListener('click', () => jumpTo(room, m.id));
    li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') jumpTo(room, m.id); });
    return li;
  });
  ui.searchResults.replaceChildren(...rows);
  let summary = found.length === 0 ? `No messages in #${room} match “${q}”.`
    : `${found.length} ${found.length === 1 ? 'message' : 'messages'} in #${room} ${found.length === 1 ? 'matches' : 'match'} “${q}”.`;
  if (f.incomplete) summary += ' The search ran out of time; there may be more.';
  ui.searchSummary.textContent = summary;
}

/** Shows message id of room in the conversation, when it is loaded there. */
function jumpTo(room, id) {
  const v = viewConv();
  if (v.kind !== 'room' || v.name !== room) return;
  const row = v.list.querySelector(`:scope > [data-id="${Number(id)}"]`);
  if (!row) {
    notice('That message is older than what is loaded here. Use “Load older messages” to reach it.', { kind: 'info', key: 'search' });
    return;
  }
  closeSearch();
  row.scrollIntoView({ block: 'center' });
  v.stick = false;
  row.classList.add('flash');
  setTimeout(() => row.classList.remove('flash'), 2000);
}
