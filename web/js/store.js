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
