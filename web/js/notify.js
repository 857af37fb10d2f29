// Desktop notifications on mentions and direct messages: opt-in (a checkbox in the
// sidebar asks the browser's permission), only when the person is not looking at
// that conversation, one per conversation at a time (the tag replaces the last one).
import { ui } from './dom.js';
import { state } from './state.js';
import { save, STORE_NOTIFY } from './store.js';
import { notice } from './notices.js';

let openHandler = null;

/** Where a click on a notification leads: fn(key) opens that conversation. */
export function onNotificationOpen(fn) { openHandler = fn; }

const supported = () => typeof Notification === 'function';

/** Shows the opt-in as the browser allows it (checked only when on and permitted). */
export function renderNotifyOption() {
  if (!supported()) {
    ui.notifyInput.disabled = true;
    ui.notifyHint.textContent = 'This browser cannot show notifications.';
    return;
  }
  const denied = Notification.permission === 'denied';
  ui.notifyInput.checked = state.notify && Notification.permission === 'granted';
  ui.notifyHint.textContent = denied ? 'Notifications are blocked for this page in the browser’s settings.' : '';
}

/** The checkbox changed: ask for permission when turning on. */
export async function onNotifyToggle() {
  const on = ui.notifyInput.checked;
  if (on && supported() && Notification.permission !== 'granted') {
    let answer = 'denied';
    try { answer = await Notification.requestPermission(); } catch { /* old API: treat as denied */ }
    if (answer !== 'granted') {
      state.notify = false;
      save(STORE_NOTIFY, false);
      renderNotifyOption();
      notice('The browser did not allow notifications, so they stay off.', { kind: 'info', key: 'notify' });
      return;
    }
  }
  state.notify = on;
  save(STORE_NOTIFY, on);
  renderNotifyOption();
}

/** A mention (or a DM) from `from` arrived in c: notify unless the person is looking at it. */
export function notifyMention(c, from, text) {
  if (!state.notify || !supported() || Notification.permission !== 'granted') return;
  if (c.key === state.view && document.visibilityState === 'visible' && document.hasFocus()) return;
  const title = c.kind === 'dm' ? `${from} (direct message)` : `${from} in #${c.name}`;
  try {
    const n = new Notification(title, { body: String(text).slice(0, 200), tag: `chatd:${c.key}` });
    n.addEventListener('click', () => { window.focus(); if (openHandler) openHandler(c.key); n.close(); });
  } catch { /* some browsers only allow notifications from a service worker */ }
}
