// The client's whole mutable state, in one object every module shares, and the
// conversations: one per room (key "#name") and one per direct-message peer
// (key "@name" in lower case). Each keeps its own log, ids, members, typing,
// unread counts and scroll place while another one is shown.
import { el } from './util.js';

export const DEFAULT_ROOM = 'general';

export const state = {
  ws: null,
  status: 'connecting',     // connecting | connected | offline
  welcomed: false,          // a welcome arrived on the current socket
  multi: false,             // the server said multi:true: the socket is in many rooms at once
  joinSentFor: null,        // single-room server: the room named in the last join frame
  view: `#${DEFAULT_ROOM}`, // key of the conversation shown
  me: null,                 // own name, as the server last said
  wantedName: null,         // the name the user asked for (remembered)
  session: null,            // the session key (localStorage): several tabs are one person
  limits: {},
  rooms: [],                // the rooms joined (multi) or bookmarked (single), in sidebar order
  convs: new Map(),         // key -> conversation (see conv)
  pending: new Map(),       // client_id -> pending outgoing message
  clientSeq: 0,
  lastTypingSent: 0,
  lastTypingFrameAt: 0,
  attempt: 0,
  retryTimer: null, retryAt: 0, countdownTimer: null, stableTimer: null,
  unsupported: new Set(),   // optional frame types this server answered with unknown_type
  notify: false,            // desktop notifications on mentions and DMs (opt-in)
  readSync: false,          // the server keeps read positions (it sent a read or dms frame)
  dmHistory: false,         // the server keeps DMs (it sent a dms frame)
  commands: [],             // slash commands the server's plugins offer (welcome.commands): {name, usage, help}
};

export const roomKey = (room) => `#${room}`;
export const dmKey = (name) => `@${String(name).toLowerCase()}`;

/**
 * The conversation under key, created on first use (name: the room, or the peer's
 * name as shown; defaults to what the key says). Returns it (owned by state.convs).
 */
export function conv(key, name) {
  let c = state.convs.get(key);
  if (!c) {
    const kind = key[0] === '@' ? 'dm' : 'room';
    const shown = name ?? key.slice(1);
    const list = el('ol', 'log');
    list.setAttribute('aria-label', kind === 'room' ? `Messages in #${shown}` : `Direct messages with ${shown}`);
    c = {
      key, kind, name: shown, list,
      ids: new Set(), minId: Infinity, maxId: 0,
      hasMore: null,        // null: unknown, true/false from the server
      loadingOlder: false,
      members: new Map(),   // rooms: lowercase name -> name
      userCount: 0,
      typers: new Map(),    // rooms: name -> timeout handle
      joined: false,        // rooms: a welcome for it arrived on the current socket
      checkReset: false,    // first live message after a welcome checks for an id reset
      replayAfter: null,    // replayed rows go after this row (where the welcome arrived)
      readId: 0,            // the newest id read (shared with the server and other tabs)
      unread: 0,            // other people's messages after readId
      mentions: 0,          // of those, the ones naming me (every DM message is one)
      divider: null,        // the "new since you left" row, while it is shown
      dividerArmed: true,   // the next read with unread messages places the divider
      stick: true,          // the view follows new messages (it was at the bottom)
      scrollTop: null,      // where the reader was when another view was opened
      unseen: 0,            // new messages below while scrolled up (the jump button)
      historyAsked: false,  // DMs: the stored conversation was asked for
      shown: false,         // DMs: listed in the sidebar
      joinSent: false,      // rooms: a join for it went out on the current socket
    };
    state.convs.set(key, c);
  } else if (name && c.kind === 'dm' && c.name !== name) {
    c.name = name;          // the peer's name as the server spells it
  }
  return c;
}

/** The conversation shown. */
export const viewConv = () => conv(state.view);

/** The room conversation of a room name. */
export const roomConv = (room) => conv(roomKey(room));
