/* chatd browser client: the entry module (index.html loads it as type="module").
 * Plain JS modules under js/, no framework, no build step; runs under the page's strict CSP.
 * Safety rule: every string that comes from a user or the server is put on the
 * page with textContent / createTextNode, never parsed as HTML.
 * Wire contract: docs/protocol.md; client notes and the module map: docs/client.md. */
import { ui } from './js/dom.js';
import { state, roomKey, DEFAULT_ROOM } from './js/state.js';
import { load, save, sessionKey, STORE_NAME, STORE_ROOMS, STORE_ROOM, STORE_NOTIFY } from './js/store.js';
import { roomProblem, nameProblem, canonicalRoom } from './js/validate.js';
import { notice } from './js/notices.js';
import { scrollToBottom, onScroll } from './js/scroll.js';
import { connect } from './js/connection.js';
import { rememberRoom, renderChrome, loadOlder, openSidebar, closeSidebar } from './js/sidebar.js';
import { goRoom, hashKey, onHashChange, openConv } from './js/views.js';
import { setName } from './js/commands.js';
import { onSubmit, onInput, onInputKey, updateComposer } from './js/composer.js';
import { checkRead, noteActivity, flushReadsNow } from './js/unread.js';
import { renderNotifyOption, onNotifyToggle, onNotificationOpen } from './js/notify.js';
import { openDirectory, closeDirectory } from './js/browse.js';
import { onSearchSubmit, closeSearch } from './js/search.js';
import { askName } from './js/prompt.js';

function wire() {
  // The skip link must not touch the URL fragment: that names the conversation.
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
  ui.notifyInput.addEventListener('change', onNotifyToggle);
  ui.browseBtn.addEventListener('click', () => { closeSidebar(); openDirectory(); });
  ui.browseClose.addEventListener('click', closeDirectory);
  ui.searchForm.addEventListener('submit', onSearchSubmit);
  ui.searchClose.addEventListener('click', () => { closeSearch(); ui.searchInput.focus(); });
  ui.loadOlder.addEventListener('click', loadOlder);
  ui.jumpNew.addEventListener('click', () => { scrollToBottom(); checkRead(); ui.input.focus(); });
  ui.scroller.addEventListener('scroll', () => { onScroll(); checkRead(); }, { passive: true });
  ui.retryNow.addEventListener('click', () => { state.attempt = 0; connect(); });
  ui.toggle.addEventListener('click', () => (ui.sidebar.classList.contains('open') ? closeSidebar() : openSidebar()));
  ui.scrim.addEventListener('click', closeSidebar);
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && ui.sidebar.classList.contains('open')) { closeSidebar(); ui.toggle.focus(); } });
  window.addEventListener('hashchange', onHashChange);
  window.addEventListener('online', () => { if (state.status === 'offline') connect(); });
  // Reading: what is shown counts as read once the page is visible, focused and used.
  for (const type of ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart']) {
    window.addEventListener(type, () => { noteActivity(); checkRead(); }, { passive: true, capture: true });
  }
  window.addEventListener('focus', () => { noteActivity(); checkRead(); });
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') { noteActivity(); checkRead(); } });
  window.addEventListener('pagehide', flushReadsNow);
  onNotificationOpen((key) => openConv(key));
}

function init() {
  state.session = sessionKey();
  const fromUrl = new URLSearchParams(location.search).get('name');
  const stored = load(STORE_NAME, null);
  const name = (fromUrl && !nameProblem(fromUrl.trim())) ? fromUrl.trim() : (typeof stored === 'string' ? stored : null);
  if (name) { state.wantedName = name; save(STORE_NAME, name); }
  state.notify = load(STORE_NOTIFY, false) === true;

  const rooms = load(STORE_ROOMS, []);
  // Lists stored before room names were case-insensitive may hold "Lounge" and "lounge": one room.
  const valid = Array.isArray(rooms) ? rooms.filter((r) => typeof r === 'string' && !roomProblem(r)) : [];
  state.rooms = [...new Set(valid.map(canonicalRoom))];
  const fromHash = hashKey();
  const last = load(STORE_ROOM, null);
  if (fromHash) state.view = fromHash;
  else if (typeof last === 'string' && last[0] === '@' && last.length > 1) state.view = last.toLowerCase();
  else if (typeof last === 'string' && !roomProblem(last)) state.view = roomKey(canonicalRoom(last));
  else state.view = roomKey(DEFAULT_ROOM);
  if (location.hash.length > 1 && !fromHash) notice(`Cannot open “${location.hash.slice(1)}”: that is not a room or a person.`, { key: 'room' });
  if (state.view[0] === '#') rememberRoom(state.view.slice(1));
  else if (!state.rooms.length) rememberRoom(DEFAULT_ROOM);
  const hash = state.view[0] === '#' ? state.view.slice(1) : state.view;
  if (location.hash.slice(1) !== hash) history.replaceState(null, '', `#${hash}`);

  ui.nickInput.value = state.wantedName || '';
  wire();
  renderChrome();
  renderNotifyOption();
  updateComposer();
  if (state.wantedName) connect();
  else {
    ui.connText.textContent = 'Not connected: choose a name';
    askName((chosen) => { ui.nickInput.value = chosen; connect(); ui.input.focus(); });
  }
}

init();
