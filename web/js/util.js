// Small DOM and text helpers shared by every part of the client.
// Safety rule: strings from users or the server only ever reach the page through
// textContent / createTextNode (el() below), never as HTML.

const pad2 = (n) => String(n).padStart(2, '0');
export { pad2 };

/** Local HH:MM of a Date. */
export const hhmm = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;

/** Case-insensitive name equality (the server compares names that way). */
export const sameName = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

const encoder = new TextEncoder();
/** UTF-8 length of a string in bytes. */
export const byteLength = (s) => encoder.encode(s).length;

/** A new element with an optional class and text (set with textContent). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// One formatter for every row: Date.toLocaleString() builds a new one per call, which
// costs more than the rest of a message row together.
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
/** Compares names the way a person sorts them (case and accents aside); one collator, reused. */
export const compareNames = new Intl.Collator(undefined, { sensitivity: 'base' }).compare;

/** A <time> element: local HH:MM, full date in the title. */
export function timeEl(ts) {
  const d = new Date(typeof ts === 'number' ? ts : Date.now());
  const t = el('time', 'ts', hhmm(d));
  t.dateTime = d.toISOString();
  t.title = fullDate.format(d);
  return t;
}

/** Stable avatar colour class for a name (a palette in style.css). */
export function avatarClass(name) {
  let h = 0;
  for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
  return `avatar av${h % 8}`;
}

export function describeRoomCount(n) { return `${n} ${n === 1 ? 'member' : 'members'}`; }
