// The sidebar and the chrome around the log: rooms and direct messages with their
// unread counts, members, title (with the unread count in the tab title), "load
// older", and the off-canvas sidebar of narrow screens.
import { ui } from './dom.js';
import { state, conv, viewConv, roomKey } from './state.js';
import { el, describeRoomCount, compareNames } from './util.js';
import { save, STORE_ROOMS, STORE_ROOM } from './store.js';
import { sendFrame } from './connection.js';
import { openConv, leaveRoom, forgetDm } from './views.js';
import { totalUnread } from './unread.js';
import { renderTyping } from './typing.js';

export const HISTORY_PAGE = 50;
const CHROME_BATCH_MS = 40;
let chromeTimer = null;

/** Re-renders the lists and the tab title soon (many messages in a burst: once). */
export function scheduleChrome() {
  if (chromeTimer) return;
  chromeTimer = setTimeout(() => { chromeTimer = null; renderLists(); renderHeader(); renderTitle(); }, CHROME_BATCH_MS);
}

/** The badge of a conversation: its unread count, marked when some of it names me. */
function badge(c) {
  const b = el('span', c.mentions > 0 ? 'badge mention' : 'badge', c.unread > 99 ? '99+' : String(c.unread));
  b.setAttribute('aria-hidden', 'true');
  return b;
}

/** "3 unread, 1 mention" for the link's accessible name ('' when nothing is unread). */
function unreadWords(c) {
  if (!c.unread) return '';
  let s = `, ${c.unread} unread`;
  if (c.mentions) s += `, ${c.mentions} ${c.mentions === 1 ? 'mention' : 'mentions'}`;
  return s;
}

function convItem(c, label, href, removeLabel, onRemove) {
  const current = c.key === state.view;
  let cls = c.kind === 'room' ? 'room' : 'room dm';
  if (current) cls += ' current';
  if (c.unread) cls += ' unread';
  if (c.mentions) cls += ' has-mention';
  const li = el('li', cls);
  li.dataset.key = c.key;
  const link = el('a', 'room-link', label);
  link.href = href;
  if (c.unread) link.setAttribute('aria-label', `${label}${unreadWords(c)}`);
  if (current) link.setAttribute('aria-current', 'page');
  link.addEventListener('click', (ev) => { ev.preventDefault(); openConv(c.key); closeSidebar(); });
  li.append(link);
  if (c.unread) li.append(badge(c));
  if (onRemove) {
    const rm = el('button', 'icon-btn room-remove', '×');
    rm.type = 'button';
    rm.setAttribute('aria-label', removeLabel);
    rm.addEventListener('click', onRemove);
    li.append(rm);
  }
  return li;
}

/** The room list and the direct-message list. */
export function renderLists() {
  const rooms = [];
  for (const room of state.rooms) {
    const c = conv(roomKey(room));
    // Single-room server: the other rooms are bookmarks; the shown one cannot be removed.
    const removable = state.multi ? state.rooms.length > 1 : c.key !== state.view;
    const label = state.multi ? `Leave #${room}` : `Remove #${room} from the list`;
    rooms.push(convItem(c, `# ${room}`, `#${room}`, label, removable ? () => leaveRoom(room) : null));
  }
  ui.roomList.replaceChildren(...rooms);
  const dms = [];
  for (const c of state.convs.values()) {
    if (c.kind !== 'dm' || !c.shown) continue;
    dms.push(convItem(c, c.name, `#@${c.name}`, `Close the conversation with ${c.name}`, () => forgetDm(c.key)));
  }
  ui.dmList.replaceChildren(...dms);
  ui.dmEmpty.hidden = dms.length > 0;
}

/** The tab title: the view's name, after the number of unread messages when there are any. */
export function renderTitle() {
  const v = viewConv();
  const base = v.kind === 'room' ? `#${v.name} · chatd` : `${v.name} · chatd`;
  const n = totalUnread();
  document.title = n > 0 ? `(${n}) ${base}` : base;
  // Narrow screens hide the sidebar: its toggle carries the count (elsewhere than the view).
  const away = n - v.unread;
  if (away > 0) ui.toggle.dataset.unread = away > 99 ? '99+' : String(away);
  else delete ui.toggle.dataset.unread;
  ui.toggleLabel.textContent = away > 0 ? `Rooms and people, ${away} unread elsewhere` : 'Rooms and people';
}

/** Adds a room to the list (joined or bookmarked) and remembers the list. */
export function rememberRoom(room) {
  if (!state.rooms.includes(room)) state.rooms.push(room);
  save(STORE_ROOMS, state.rooms);
}

/** Remembers the view for the next visit. */
export function rememberView() {
  save(STORE_ROOM, state.view[0] === '#' ? state.view.slice(1) : state.view);
}

function memberItem(name) {
  const me = name === state.me;
  const li = el('li', me ? 'member me' : 'member');
  const dot = el('span', 'presence-dot');
  dot.setAttribute('aria-hidden', 'true');
  li.append(dot, el('span', 'member-name', name));
  if (me) li.append(el('span', 'you-tag', '(you)'));
  else {
    const dm = el('button', 'icon-btn member-dm', '✉');
    dm.type = 'button';
    dm.setAttribute('aria-label', `Send ${name} a direct message`);
    dm.addEventListener('click', () => { openConv(`@${name.toLowerCase()}`, { name }); closeSidebar(); ui.input.focus(); });
    li.append(dm);
  }
  return li;
}

export function renderMembers() {
  const v = viewConv();
  if (v.kind === 'dm') {
    const names = [v.name, ...(state.me ? [state.me] : [])];
    ui.memberList.replaceChildren(...names.map(memberItem));
    ui.peopleCount.textContent = '';
    ui.headerCount.textContent = 'Direct message';
    return;
  }
  const names = [...v.members.values()].sort(compareNames);
  ui.memberList.replaceChildren(...names.map(memberItem));
  const total = Math.max(v.userCount, names.length);
  if (total > names.length) ui.memberList.append(el('li', 'member more', `and ${total - names.length} more`));
  ui.peopleCount.textContent = `(${total})`;
  ui.headerCount.textContent = describeRoomCount(total);
}

/** The view's name in the top bar and the message box (a DM peer's name may change: a rename, the server's spelling). */
function renderHeader() {
  const v = viewConv();
  const label = v.kind === 'room' ? `#${v.name}` : v.name;
  ui.roomHash.textContent = v.kind === 'room' ? '#' : '@';
  if (ui.roomTitle.textContent !== v.name) ui.roomTitle.textContent = v.name;
  ui.msgLabel.textContent = `Message ${label}`;
  if (ui.input.placeholder !== `Message ${label}`) ui.input.placeholder = `Message ${label}`;
}

/** Everything that names the view: title, lists, placeholders, log, typing. */
export function renderChrome() {
  const v = viewConv();
  renderHeader();
  ui.searchForm.hidden = v.kind !== 'room';
  if (ui.logHolder.firstElementChild !== v.list) ui.logHolder.replaceChildren(v.list);
  renderLists();
  renderTitle();
  renderMembers();
  renderTyping();
  updateOlderButton();
}

export function updateOlderButton() {
  const v = viewConv();
  // Ids are positive integers: with id 1 shown there is nothing older to ask for.
  ui.loadOlder.hidden = !(v.ids.size > 0 && v.minId > 1 && v.hasMore !== false && !state.unsupported.has('history'));
  ui.loadOlder.disabled = v.loadingOlder;
  ui.loadOlder.textContent = v.loadingOlder ? 'Loading…' : 'Load older messages';
}

/** Asks the server for the page of messages before the oldest one shown. */
export function loadOlder() {
  const v = viewConv();
  if (v.loadingOlder || !v.ids.size || state.status !== 'connected') return;
  v.loadingOlder = true;
  const where = v.kind === 'room' ? { room: v.name } : { dm: v.name };
  sendFrame({ type: 'history', ...where, before: v.minId, limit: HISTORY_PAGE });
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
