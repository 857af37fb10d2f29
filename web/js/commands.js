// /commands typed in the message box, and renaming.
import { ui } from './dom.js';
import { state, viewConv, dmKey } from './state.js';
import { save, STORE_NAME } from './store.js';
import { nameProblem, roomProblem, canonicalRoom } from './validate.js';
import { notice } from './notices.js';
import { addSystem } from './render.js';
import { sendFrame } from './connection.js';
import { sendChat, sendPrivate } from './outbox.js';
import { goRoom, leaveRoom, openConv } from './views.js';
import { openDirectory } from './browse.js';

const HELP_LINES = [
  '/msg NAME TEXT — direct message to NAME (opens your conversation with them)',
  '/me ACTION — say what you do (“/me waves” shows “* Alice waves”)',
  '/join ROOM — join or create ROOM',
  '/leave [ROOM] — leave ROOM (the one shown by default)',
  '/rooms — browse the rooms that have people in them',
  '/nick NAME — change your name',
  '/who — refresh the member list',
  '/help — this list',
  '//text — send a message that starts with “/”',
];

/** The client's own commands: a server command of the same name is shadowed by them. */
const OWN_COMMANDS = ['msg', 'w', 'me', 'join', 'leave', 'part', 'rooms', 'nick', 'who', 'help'];

/** The server's command called name (any case), or undefined. */
export function serverCommand(name) {
  const n = name.toLowerCase();
  return state.commands.find((c) => c.name === n);
}

/** Commands of the client and the server whose name starts with prefix (no slash), for the composer. */
export function commandsStartingWith(prefix) {
  const p = prefix.toLowerCase();
  const server = state.commands.filter((c) => !OWN_COMMANDS.includes(c.name)).map((c) => ({ name: c.name, line: `${c.usage} — ${c.help}` }));
  const local = HELP_LINES.filter((l) => l.startsWith('/') && !l.startsWith('//'))
    .map((l) => ({ name: l.slice(1).split(/\s/)[0], line: l }));
  return [...local, ...server].filter((c) => c.name.startsWith(p));
}

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

/** "/msg NAME TEXT" or "/msg "Ann Lee" TEXT": {to, text}, or null. */
function parseMsg(rest) {
  const m = rest.match(/^"\s*([^"]*?)\s*"\s+([\s\S]*\S[\s\S]*)$/) || rest.match(/^(\S+)\s+([\s\S]*\S[\s\S]*)$/);
  return m && m[1] ? { to: m[1], text: m[2].trim() } : null;
}

/** Runs a /command typed in the composer; returns true when the input can be cleared. */
export function runCommand(line) {
  const [, cmd = '', rest = ''] = line.match(/^\/(\S*)\s*([\s\S]*)$/) || [];
  switch (cmd.toLowerCase()) {
    case 'msg': case 'w': {
      const m = parseMsg(rest);
      if (!m) { notice('Usage: /msg NAME TEXT', { key: 'command' }); return false; }
      if (state.me !== null && m.to.toLowerCase() === state.me.toLowerCase()) {
        notice('That is you. Write to someone else.', { key: 'command' });
        return false;
      }
      if (!sendPrivate(m.to, m.text)) return false;
      openConv(dmKey(m.to), { name: m.to });
      return true;
    }
    case 'me':
      if (!rest.trim()) { notice('Usage: /me ACTION, for example “/me waves”.', { key: 'command' }); return false; }
      if (viewConv().kind === 'dm') return sendChat(`* ${state.me ?? 'you'} ${rest.trim()}`);
      return sendChat(`/me ${rest.trim()}`);
    case 'nick':
      if (!rest.trim()) { notice('Usage: /nick NAME', { key: 'command' }); return false; }
      return setName(rest);
    case 'join':
      if (!rest.trim()) { notice('Usage: /join ROOM', { key: 'command' }); return false; }
      return goRoom(rest.trim(), { typed: true });
    case 'leave': case 'part': {
      const v = viewConv();
      const room = rest.trim() ? rest.trim() : (v.kind === 'room' ? v.name : '');
      if (!room || roomProblem(room)) { notice('Usage: /leave ROOM', { key: 'command' }); return false; }
      const canon = canonicalRoom(room);
      if (!state.rooms.includes(canon)) { notice(`You are not in #${canon}.`, { key: 'command' }); return false; }
      if (state.rooms.length <= 1) { notice('This is your only room. Join another one before leaving it.', { key: 'command' }); return false; }
      leaveRoom(canon);
      return true;
    }
    case 'rooms':
      openDirectory();
      return true;
    case 'who': {
      const v = viewConv();
      if (v.kind !== 'room') { notice('/who lists the people of a room; this is a direct conversation.', { key: 'command' }); return false; }
      if (!sendFrame({ type: 'who', room: v.name })) { notice('Not connected.', { key: 'command' }); return false; }
      return true;
    }
    case 'help': {
      const server = state.commands.filter((c) => !OWN_COMMANDS.includes(c.name)).map((c) => `${c.usage} — ${c.help}`);
      addSystem(`Commands: ${[...HELP_LINES, ...server].join(' · ')}`, 'help');
      return true;
    }
    default:
      // a command a server plugin offers (welcome.commands): the server runs it
      if (serverCommand(cmd)) return sendChat(line.trim());
      notice(`Unknown command /${cmd}. Type /help for the list, or start with // to send a slash.`, { key: 'command' });
      return false;
  }
}
