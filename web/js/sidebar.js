// The sidebar and the chrome around the log: room list, members, title, "load older",
// and the off-canvas sidebar of narrow screens.
import { ui } from './dom.js';
import { state, current } from './state.js';
import { el, describeRoomCount } from './util.js';
import { save, STORE_ROOMS, STORE_ROOM } from './store.js';
import { sendFrame } from './connection.js';
import { goRoom } from './rooms.js';

const HISTORY_PAGE = 50;
export { HISTORY_PAGE };

export function renderRoomList() {
  ui.roomList.replaceChildren();
  for (const room of state.rooms) {
    const li = el('li', room === state.room ? 'room current' : 'room');
    const link = el('a', 'room-link', `# ${room}`);
    link.href = `#${room}`;
    if (room === state.room) link.setAttribute('aria-current', 'page');
    link.addEventListener('click', (ev) => { ev.preventDefault(); goRoom(room); closeSidebar(); });
    li.append(link);
    if (room !== state.room) {
      const rm = el('button', 'icon-btn room-remove', '×');
      rm.type = 'button';
      rm.setAttribute('aria-label', `Remove #${room} from the list`);
      rm.addEventListener('click', () => forgetRoom(room));
      li.append(rm);
    }
    ui.roomList.append(li);
  }
}

/** Adds room to the remembered list and remembers it as the last room. */
export function rememberRoom(room) {
  if (!state.rooms.includes(room)) state.rooms.push(room);
  save(STORE_ROOMS, state.rooms);
  save(STORE_ROOM, room);
}

function forgetRoom(room) {
  state.rooms = state.rooms.filter((r) => r !== room);
  save(STORE_ROOMS, state.rooms);
  renderRoomList();
  ui.joinInput.focus();
}

export function renderMembers() {
  const d = current();
  const names = [...d.members.values()].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  ui.memberList.replaceChildren();
  for (const name of names) {
    const li = el('li', name === state.me ? 'member me' : 'member');
    const dot = el('span', 'presence-dot');
    dot.setAttribute('aria-hidden', 'true');
    li.append(dot, el('span', 'member-name', name));
    if (name === state.me) li.append(el('span', 'you-tag', '(you)'));
    ui.memberList.append(li);
  }
  const total = Math.max(d.userCount, names.length);
  if (total > names.length) ui.memberList.append(el('li', 'member more', `and ${total - names.length} more`));
  ui.peopleCount.textContent = `(${total})`;
  ui.headerCount.textContent = describeRoomCount(total);
}

/** Everything that names the current room: title, list, placeholders, log. */
export function renderRoomChrome() {
  const room = state.room;
  const d = current();
  ui.roomTitle.textContent = room;
  document.title = `#${room} · chatd`;
  ui.msgLabel.textContent = `Message #${room}`;
  ui.input.placeholder = `Message #${room}`;
  if (ui.logHolder.firstElementChild !== d.list) ui.logHolder.replaceChildren(d.list);
  renderRoomList();
  renderMembers();
  updateOlderButton();
}

export function updateOlderButton() {
  const d = current();
  // Ids are positive integers: with id 1 shown there is nothing older to ask for.
  ui.loadOlder.hidden = !(d.ids.size > 0 && d.minId > 1 && d.hasMore !== false && !state.unsupported.has('history'));
  ui.loadOlder.disabled = d.loadingOlder;
  ui.loadOlder.textContent = d.loadingOlder ? 'Loading…' : 'Load older messages';
}

/** Asks the server for the page of messages before the oldest one shown. */
export function loadOlder() {
  const d = current();
  if (d.loadingOlder || !d.ids.size || state.status !== 'connected') return;
  d.loadingOlder = true;
  sendFrame({ type: 'history', before: d.minId, limit: HISTORY_PAGE });
  updateOlderButton();
}

export function openSidebar() {
  ui.sidebar.classList.add('open');
  ui.scrim.hidden = false;
  ui.toggle.setAttribute('aria-expanded', 'true');
  (ui.sidebar.querySelector('a, input, button') || ui.sidebar).focus();
}

export function closeSidebar() {
  if (!ui.sidebar.classList.contains('open')) return;
  ui.sidebar.classList.remove('open');
  ui.scrim.hidden = true;
  ui.toggle.setAttribute('aria-expanded', 'false');
}
