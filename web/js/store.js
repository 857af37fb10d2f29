// localStorage, tolerant of private mode and of values another version wrote.
export const STORE_NAME = 'chatd.name';    // the name the user asked for
export const STORE_ROOMS = 'chatd.rooms';  // the room list
export const STORE_ROOM = 'chatd.room';    // the last room shown

/** The JSON value stored under key, or fallback when absent or unreadable. */
export function load(key, fallback) {
  try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch { return fallback; }
}

/** Stores value as JSON under key; silently does nothing when storage is unavailable. */
export function save(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode: keep going */ }
}
export const STORE_SESSION = 'chatd.session';  // the session key (docs/protocol.md)
export const STORE_NOTIFY = 'chatd.notify';    // desktop notifications opted in

/** The session key of this browser, made on first use: 32 characters of [A-Za-z0-9_-]. */
export function sessionKey() {
  const stored = load(STORE_SESSION, null);
  if (typeof stored === 'string' && /^[A-Za-z0-9_-]{16,128}$/.test(stored)) return stored;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  const key = [...bytes].map((b) => alphabet[b & 63]).join('');
  save(STORE_SESSION, key);
  return key;
}
