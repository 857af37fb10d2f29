// Checks done before anything is sent, with the reason in plain words.
const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Why a room name is refused, or '' when it is fine. */
export function roomProblem(room) {
  if (!room) return 'A room name cannot be empty.';
  if (room.length > 64) return `A room name is at most 64 characters (this one has ${room.length}).`;
  const bad = [...room].find((ch) => !/[A-Za-z0-9._-]/.test(ch));
  if (bad !== undefined) {
    const shown = bad === ' ' ? 'a space' : `“${bad}”`;
    return `A room name may only use letters, digits, “.”, “_” and “-” (not ${shown}).`;
  }
  return ROOM_RE.test(room) ? '' : 'That room name is not valid.';
}

/**
 * The canonical form of a valid room name: room names are case-insensitive and the
 * server names every room in lower case (docs/protocol.md), so `Lounge` is `lounge`.
 */
export const canonicalRoom = (room) => room.toLowerCase();

/** Why a nickname is refused, or '' when it is fine. */
export function nameProblem(name) {
  if (!name) return 'A name cannot be empty.';
  if ([...name].length > 32) return 'A name is at most 32 characters.';
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'A name cannot contain control characters.';
  return '';
}
