// The room directory: the rooms that have members (unlisted ones excepted), with
// their member counts, from {"type":"rooms"}; a click joins one.
import { ui } from './dom.js';
import { state } from './state.js';
import { el } from './util.js';
import { sendFrame } from './connection.js';
import { goRoom } from './views.js';

/** Opens the directory and asks the server for the list. */
export function openDirectory() {
  ui.browseList.replaceChildren();
  ui.browseStatus.textContent = 'Loading…';
  if (!ui.browseDialog.open) ui.browseDialog.showModal();
  if (state.unsupported.has('rooms')) { directoryUnsupported(); return; }
  if (!sendFrame({ type: 'rooms' })) ui.browseStatus.textContent = 'Not connected: the list comes once the connection is back.';
}

export function closeDirectory() {
  if (ui.browseDialog.open) ui.browseDialog.close();
}

/** The server cannot list rooms (it is older than the directory). */
export function directoryUnsupported() {
  ui.browseStatus.textContent = 'This server cannot list its rooms. Join one by name instead.';
}

/** Answer to {"type":"rooms"}: the list, biggest first, each with a Join (or Open) button. */
export function renderDirectory(f) {
  const rooms = Array.isArray(f.rooms) ? f.rooms.filter((r) => r && typeof r.name === 'string') : [];
  const items = rooms.map((r) => {
    const n = typeof r.user_count === 'number' ? r.user_count : 0;
    const li = el('li', 'dir-room');
    li.dataset.room = r.name;
    li.append(el('span', 'dir-name', `# ${r.name}`), el('span', 'dir-count', `${n} ${n === 1 ? 'member' : 'members'}`));
    const joined = state.rooms.includes(r.name) && state.multi;
    const btn = el('button', 'dir-join', joined ? 'Open' : 'Join');
    btn.type = 'button';
    btn.setAttribute('aria-label', `${joined ? 'Open' : 'Join'} #${r.name}`);
    btn.addEventListener('click', () => { closeDirectory(); goRoom(r.name); ui.input.focus(); });
    li.append(btn);
    return li;
  });
  ui.browseList.replaceChildren(...items);
  if (!items.length) ui.browseStatus.textContent = 'No room has anyone in it right now. Create one by joining it by name.';
  else ui.browseStatus.textContent = f.more ? `The ${items.length} biggest rooms:` : `${items.length} ${items.length === 1 ? 'room' : 'rooms'}:`;
}
