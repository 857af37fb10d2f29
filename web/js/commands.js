// /commands typed in the message box, and renaming.
import { ui } from './dom.js';
import { state } from './state.js';
import { save, STORE_NAME } from './store.js';
import { nameProblem } from './validate.js';
import { notice } from './notices.js';
import { addSystem } from './render.js';
import { sendFrame } from './connection.js';
import { sendChat } from './outbox.js';
import { goRoom } from './rooms.js';

const HELP_LINES = [
  '/msg NAME TEXT — private message to NAME, wherever they are',
  '/me ACTION — say what you do (“/me waves” shows “* Alice waves”)',
  '/nick NAME — change your name',
  '/join ROOM — join or create ROOM',
  '/who — refresh the member list',
  '/help — this list',
  '//text — send a message that starts with “/”',
];

/** Asks for a new name (remembered for the next connection); false when the name is refused. */
export function setName(name) {
  const clean = name.trim();
  const why = nameProblem(clean);
  if (why) { ui.nickError.textContent = why; notice(why, { key: 'name' }); return false; }
  ui.nickError.textContent = '';
  state.wantedName = clean;
  save(STORE_NAME, clean);
  if (clean === state.me) return true;
  if (state.status === 'connected') sendFrame({ type: 'nick', username: clean });
  else addSystem(`You will be ${clean} once reconnected.`);
  return true;
}

/** Runs a /command typed in the composer; returns true when the input can be cleared. */
export function runCommand(line) {
  const [, cmd = '', rest = ''] = line.match(/^\/(\S*)\s*([\s\S]*)$/) || [];
  switch (cmd.toLowerCase()) {
    case 'msg': {
      const m = rest.match(/^(\S+)\s+([\s\S]*\S[\s\S]*)$/);
      if (!m) { notice('Usage: /msg NAME TEXT', { key: 'command' }); return false; }
      return sendChat(line.trim(), { to: m[1], text: m[2].trim() });
    }
    case 'me':
      if (!rest.trim()) { notice('Usage: /me ACTION, for example “/me waves”.', { key: 'command' }); return false; }
      return sendChat(`/me ${rest.trim()}`, null);
    case 'nick':
      if (!rest.trim()) { notice('Usage: /nick NAME', { key: 'command' }); return false; }
      return setName(rest);
    case 'join':
      if (!rest.trim()) { notice('Usage: /join ROOM', { key: 'command' }); return false; }
      return goRoom(rest.trim(), { typed: true });
    case 'who':
      if (!sendFrame({ type: 'who' })) { notice('Not connected.', { key: 'command' }); return false; }
      return true;
    case 'help':
      addSystem(`Commands: ${HELP_LINES.join(' · ')}`, 'help');
      return true;
    default:
      notice(`Unknown command /${cmd}. Type /help for the list, or start with // to send a slash.`, { key: 'command' });
      return false;
  }
}
