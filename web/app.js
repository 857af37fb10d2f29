/* chatd browser client: the entry module (index.html loads it as type="module").
 * Plain JS modules under js/, no framework, no build step; runs under the page's strict CSP.
 * Safety rule: every string that comes from a user or the server is put on the
 * page with textContent / createTextNode, never parsed as HTML.
 * Wire contract: docs/protocol.md; client notes and the module map: docs/client.md. */
import { ui } from './js/dom.js';
import { state } from './js/state.js';
import { load, save, STORE_NAME, STORE_ROOMS, STORE_ROOM } from './js/store.js';
import { roomProblem, nameProblem, canonicalRoom } from './js/validate.js';
import { notice } from './js/notices.js';
import { nearBottom, scrollToBottom } from './js/scroll.js';
import { connect } from './js/connection.js';
import { rememberRoom, renderRoomChrome, loadOlder, openSidebar, closeSidebar } from './js/sidebar.js';
import { goRoom, hashRoom, onHashChange } from './js/rooms.js';
import { setName } from './js/commands.js';
import { onSubmit, onInput, onInputKey, updateComposer } from './js/composer.js';

function wire() {
  // The skip link must not touch the URL fragment: that names the room.
  document.querySelector('.skip-link').addEventListener('click', (ev) => { ev.preventDefault(); ui.input.focus(); });
  ui.composer.addEventListener('submit', onSubmit);
  ui.input.addEventListener('input', onInput);
  ui.input.addEventListener('keydown', onInputKey);
  ui.joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (goRoom(ui.joinInput.value.trim(), { typed: true })) { ui.joinInput.value = ''; closeSidebar(); ui.input.focus(); }
  });
  ui.joinInput.addEventListener('input', () => {
    const v = ui.joinInput.value.trim();
    ui.joinError.textContent = v ? roomProblem(v) : '';
  });
  ui.nickForm.addEventListener('submit', (ev) => { ev.preventDefault(); if (setName(ui.nickInput.value)) ui.input.focus(); });
  ui.loadOlder.addEventListener('click', loadOlder);
  ui.jumpNew.addEventListener('click', () => { scrollToBottom(); ui.input.focus(); });
  ui.scroller.addEventListener('scroll', () => { if (nearBottom()) { state.unseen = 0; ui.jumpNew.hidden = true; } });
  ui.retryNow.addEventListener('click', () => { state.attempt = 0; connect(); });
  ui.toggle.addEventListener('click', () => (ui.sidebar.classList.contains('open') ? closeSidebar() : openSidebar()));
  ui.scrim.addEventListener('click', closeSidebar);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && ui.sidebar.classList.contains('open')) { closeSidebar(); ui.toggle.focus(); } });
  window.addEventListener('hashchange', onHashChange);
  window.addEventListener('online', () => { if (state.status === 'offline') connect(); });
}

function init() {
  const fromUrl = new URLSearchParams(location.search).get('name');
  const stored = load(STORE_NAME, null);
  const name = (fromUrl && !nameProblem(fromUrl.trim())) ? fromUrl.trim() : (typeof stored === 'string' ? stored : null);
  if (name) { state.wantedName = name; save(STORE_NAME, name); }

  const rooms = load(STORE_ROOMS, []);
  // Lists stored before room names were case-insensitive may hold "Lounge" and "lounge": one room.
  const valid = Array.isArray(rooms) ? rooms.filter((r) => typeof r === 'string' && !roomProblem(r)) : [];
  state.rooms = [...new Set(valid.map(canonicalRoom))];
  const fromHash = hashRoom();
  const lastRoom = load(STORE_ROOM, null);
  if (fromHash && !roomProblem(fromHash)) state.room = canonicalRoom(fromHash);
  else if (typeof lastRoom === 'string' && !roomProblem(lastRoom)) state.room = canonicalRoom(lastRoom);
  if (fromHash && roomProblem(fromHash)) notice(`Cannot open “${fromHash}”: ${roomProblem(fromHash)}`, { key: 'room' });
  rememberRoom(state.room);
  if (hashRoom() !== state.room) history.replaceState(null, '', `#${state.room}`);

  ui.nickInput.value = state.wantedName || '';
  wire();
  renderRoomChrome();
  updateComposer();
  connect();
}

init();
