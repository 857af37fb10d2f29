// The client's whole mutable state, in one object every module shares.
import { el } from './util.js';

export const DEFAULT_ROOM = 'general';

export const state = {
  ws: null,
  status: 'connecting',     // connecting | connected | offline
  welcomed: false,          // a welcome arrived on the current socket
  joinSentFor: null,        // room named in the last join frame on this socket
  room: DEFAULT_ROOM,       // the room the user wants to be in
  me: null,                 // own name, as the server last said
  wantedName: null,         // the name the user asked for (remembered)
  limits: {},
  rooms: [],                // remembered room list
  roomData: new Map(),      // room -> per-room view state (see roomData)
  pending: new Map(),       // client_id -> pending outgoing message
  clientSeq: 0,
  typers: new Map(),        // name -> timeout handle
  lastTypingSent: 0,
  privateIds: new Set(),
  attempt: 0,
  retryTimer: null, retryAt: 0, countdownTimer: null, stableTimer: null,
  unseen: 0,
  lastTypingFrameAt: 0,
  unsupported: new Set(),   // optional frame types this server answered with unknown_type
};

/** View state of one room (created on first use); its <ol> stays in memory while another room is shown. */
export function roomData(room) {
  let d = state.roomData.get(room);
  if (!d) {
    const list = el('ol', 'log');
    list.setAttribute('aria-label', `Messages in #${room}`);
    d = {
      room, list,
      ids: new Set(), minId: Infinity, maxId: 0,
      hasMore: null,        // null: unknown, true/false from the server
      loadingOlder: false,
      members: new Map(),   // lowercase name -> name
      userCount: 0,
      checkReset: false,    // first live message after a welcome checks for an id reset
      replayAfter: null,    // replayed rows go after this row (where the welcome arrived)
    };
    state.roomData.set(room, d);
  }
  return d;
}

/** View state of the room shown. */
export const current = () => roomData(state.room);
