/* chatd browser client.
 * Plain JS, no framework, no build step; runs under the page's strict CSP.
 * Safety rule: every string that comes from a user or the server is put on the
 * page with textContent / createTextNode, never parsed as HTML.
 * Wire contract: docs/protocol.md (PROTOCOL v1); client notes: docs/client.md. */
'use strict';

(() => {
  // ------------------------------------------------------------------ constants
  const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const DEFAULT_ROOM = 'general';
  const BACKOFF_BASE_MS = 500;
  const BACKOFF_CAP_MS = 15000;
  const STABLE_AFTER_MS = 10000;      // a connection this old resets the backoff
  const TYPING_SEND_EVERY_MS = 2000;
  const TYPING_SHOW_MS = 3000;
  const HISTORY_PAGE = 50;
  const NEAR_BOTTOM_PX = 80;
  const GROUP_WITHIN_MS = 5 * 60 * 1000;
  const UNCONFIRMED_GRACE_MS = 2500;  // after a reconnect, wait this long for a replayed echo
  const NOTICE_MS = 12000;
  const STORE_NAME = 'chatd.name';
  const STORE_ROOMS = 'chatd.rooms';
  const STORE_ROOM = 'chatd.room';

  const CLOSE_TEXT = {
    1000: 'The connection was closed.',
    1001: 'The server is restarting. Reconnecting…',
    1003: 'The server refused a frame it cannot read (binary data).',
    1006: 'The connection to the server was lost.',
    1007: 'The server refused a message that was not valid UTF-8.',
    1008: 'The server closed the connection for a policy violation (for example, sending too fast).',
    1009: 'The server closed the connection because a message was too large.',
    1011: 'The server hit an internal error.',
    1013: 'Your connection was too slow to keep up with the room. Reconnecting…',
  };

  const ERROR_TEXT = {
    rate_limited: 'You are sending too fast.',
    too_large: 'That message is too large for the server.',
    no_such_user: 'No such user is online.',
    bad_request: 'The server could not understand a request.',
    unknown_type: 'The server does not support that request.',
  };

  const HELP_LINES = [
    '/msg NAME TEXT — private message to NAME, wherever they are',
    '/nick NAME — change your name',
    '/join ROOM — join or create ROOM',
    '/who — refresh the member list',
    '/help — this list',
    '//text — send a message that starts with “/”',
  ];

  // ------------------------------------------------------------------ DOM
  const $ = (id) => document.getElementById(id);
  const ui = {
    app: $('app'), sidebar: $('sidebar'), toggle: $('sidebar-toggle'), scrim: $('scrim'),
    roomTitle: $('room-title'), headerCount: $('header-count'),
    conn: $('conn'), connText: $('conn-text'), retryNow: $('retry-now'),
    roomList: $('room-list'), joinForm: $('join-form'), joinInput: $('join-input'), joinError: $('join-error'),
    memberList: $('member-list'), peopleCount: $('people-count'),
    nickForm: $('nick-form'), nickInput: $('nick-input'), nickError: $('nick-error'),
    scroller: $('scroller'), logHolder: $('log-holder'), loadOlder: $('load-older'), jumpNew: $('jump-new'),
    notices: $('notices'), announcer: $('announcer'), typing: $('typing'),
    composer: $('composer'), input: $('msg-input'), msgLabel: $('msg-label'), byteCounter: $('byte-counter'),
  };

  // ------------------------------------------------------------------ state
  const state = {
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

  // ------------------------------------------------------------------ storage
  function load(key, fallback) {
    try { const v = localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); } catch { return fallback; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch { /* private mode: keep going */ }
  }

  // ------------------------------------------------------------------ validation
  /** Why a room name is refused, or '' when it is fine. */
  function roomProblem(room) {
    if (!room) return 'A room name cannot be empty.';
    if (room.length > 64) return `A room name is at most 64 characters (this one has ${room.length}).`;
    const bad = [...room].find((ch) => !/[A-Za-z0-9._-]/.test(ch));
    if (bad !== undefined) {
      const shown = bad === ' ' ? 'a space' : `“${bad}”`;
      return `A room name may only use letters, digits, “.”, “_” and “-” (not ${shown}).`;
    }
    return ROOM_RE.test(room) ? '' : 'That room name is not valid.';
  }

  /** Why a nickname is refused, or '' when it is fine. */
  function nameProblem(name) {
    if (!name) return 'A name cannot be empty.';
    if ([...name].length > 32) return 'A name is at most 32 characters.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'A name cannot contain control characters.';
    return '';
  }

  const encoder = new TextEncoder();
  const byteLength = (s) => encoder.encode(s).length;

  // ------------------------------------------------------------------ small helpers
  const pad2 = (n) => String(n).padStart(2, '0');
  const hhmm = (d) => `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const sameName = (a, b) => typeof a === 'string' && typeof b === 'string' && a.toLowerCase() === b.toLowerCase();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** A <time> element: local HH:MM, full date in the title. */
  function timeEl(ts) {
    const d = new Date(typeof ts === 'number' ? ts : Date.now());
    const t = el('time', 'ts', hhmm(d));
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
    return t;
  }

  /** Stable avatar colour class for a name (a palette in style.css). */
  function avatarClass(name) {
    let h = 0;
    for (const ch of String(name)) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return `avatar av${h % 8}`;
  }

  function describeRoomCount(n) { return `${n} ${n === 1 ? 'member' : 'members'}`; }

  // ------------------------------------------------------------------ per-room data
  /** View state of one room; its <ol> stays in memory while another room is shown. */
  function roomData(room) {
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

  const current = () => roomData(state.room);

  /** The room named by the URL fragment (#room), or '' (a malformed escape counts as raw text). */
  function hashRoom() {
    const raw = location.hash.slice(1);
    try { return decodeURIComponent(raw); } catch { return raw; }
  }

  // ------------------------------------------------------------------ scrolling
  function nearBottom() {
    const s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
    state.unseen = 0;
    ui.jumpNew.hidden = true;
  }

  /** Remembers where the text at the top of the view is, so a prepend can keep it in place. */
  function captureAnchor() {
    const top = ui.scroller.getBoundingClientRect().top;
    for (const row of current().list.children) {
      if (row.getBoundingClientRect().bottom > top) {
        const target = row.querySelector('.text') || row;
        return { target, y: target.getBoundingClientRect().top };
      }
    }
    return null;
  }

  function restoreAnchor(anchor) {
    if (anchor && anchor.target.isConnected) ui.scroller.scrollTop += anchor.target.getBoundingClientRect().top - anchor.y;
  }

  /** A live row was added: follow it if the reader is at the bottom, else offer a jump button. */
  function afterLiveAdd(wasNear, force) {
    if (wasNear || force) { scrollToBottom(); return; }
    state.unseen += 1;
    ui.jumpNew.textContent = state.unseen === 1 ? '1 new message ↓' : `${state.unseen} new messages ↓`;
    ui.jumpNew.hidden = false;
  }

  // ------------------------------------------------------------------ rendering rows
  /** Marks a row as a continuation when the row before it is by the same author shortly before. */
  function regroup(li) {
    if (!li || !li.classList.contains('msg') || li.classList.contains('private')) return;
    const prev = li.previousElementSibling;
    const cont = !!prev && prev.classList.contains('msg') && !prev.classList.contains('private') &&
      prev.dataset.author === li.dataset.author &&
      Math.abs(Number(li.dataset.ts) - Number(prev.dataset.ts)) < GROUP_WITHIN_MS;
    li.classList.toggle('cont', cont);
  }

  /** One chat message row (Slack-like: avatar, name, time, text). */
  function messageRow(m, own) {
    const li = el('li', own ? 'msg own' : 'msg');
    const name = String(m.username ?? '?');
    li.dataset.author = name;
    li.dataset.ts = String(typeof m.ts === 'number' ? m.ts : Date.now());
    if (typeof m.id === 'number') li.dataset.id = String(m.id);

    const av = el('span', avatarClass(name), [...name][0]?.toUpperCase() ?? '?');
    av.setAttribute('aria-hidden', 'true');
    const body = el('div', 'body');
    const meta = el('div', 'meta');
    meta.append(el('span', 'author', name));
    if (own) meta.append(el('span', 'you-tag', '(you)'));
    meta.append(timeEl(m.ts));
    body.append(meta, el('div', 'text', m.text ?? ''));
    li.append(av, body);
    return li;
  }

  /** A private message row: "→ bob (private)" or "alice → you (private)". */
  function privateRow(from, to, text, ts, mine) {
    const li = el('li', mine ? 'msg private own' : 'msg private');
    li.dataset.author = String(from);
    li.dataset.ts = String(typeof ts === 'number' ? ts : Date.now());
    const body = el('div', 'body');
    const meta = el('div', 'meta');
    const label = mine ? `→ ${to} (private)` : `${from} → you (private)`;
    meta.append(el('span', 'author', label), timeEl(ts));
    body.append(meta, el('div', 'text', text ?? ''));
    const av = el('span', 'avatar av-private', '✉');
    av.setAttribute('aria-hidden', 'true');
    li.append(av, body);
    return li;
  }

  function systemRow(text, kind, ts) {
    const li = el('li', kind ? `sys ${kind}` : 'sys');
    li.append(el('span', 'sys-text', text), timeEl(ts));
    return li;
  }

  /** Appends a system notice to a room's log (the current room by default). */
  function addSystem(text, kind, room, ts) {
    const d = room ? roomData(room) : current();
    const wasNear = nearBottom();
    d.list.append(systemRow(text, kind, ts));
    if (d.room === state.room) afterLiveAdd(wasNear);
  }

  /** Inserts a row with a message id in id order (call after rememberId); pending rows stay at the tail. */
  function insertById(d, li, id) {
    if (id >= d.maxId) {
      const firstPending = d.list.querySelector(':scope > .pending');
      d.list.insertBefore(li, firstPending);
    } else {
      let after = null;
      for (const row of d.list.children) {
        if (row.dataset.id && Number(row.dataset.id) > id) { after = row; break; }
      }
      d.list.insertBefore(li, after);
    }
    regroup(li);
    regroup(li.nextElementSibling);
  }

  /** A replayed row newer than all shown: after the previous replayed row (or the welcome point). */
  function insertReplayed(d, li) {
    if (d.replayAfter === 'start' || !d.replayAfter.isConnected) d.list.prepend(li);
    else d.replayAfter.after(li);
    d.replayAfter = li;
    regroup(li);
    regroup(li.nextElementSibling);
  }

  function rememberId(d, id) {
    d.ids.add(id);
    if (id > d.maxId) d.maxId = id;
    if (id < d.minId) d.minId = id;
  }

  /** The server's ids went backwards (restart without stored history): start a new id space. */
  function resetIds(d) {
    for (const row of d.list.querySelectorAll(':scope > [data-id]')) delete row.dataset.id;
    d.ids.clear(); d.minId = Infinity; d.maxId = 0; d.hasMore = false;
    d.list.append(systemRow('The server restarted without its message history; older messages above may be out of date.', 'warn'));
  }

  function announce(text) {
    const p = el('p', null, text);
    ui.announcer.append(p);
    while (ui.announcer.childElementCount > 5) ui.announcer.firstElementChild.remove();
  }

  // ------------------------------------------------------------------ notices (errors, info)
  /** Shows a dismissible notice in the alert region. */
  function notice(text, kind = 'error', ms = NOTICE_MS) {
    const box = el('div', `notice ${kind}`);
    box.append(el('span', 'notice-text', text));
    const close = el('button', 'icon-btn notice-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.addEventListener('click', () => { box.remove(); ui.input.focus(); });
    box.append(close);
    ui.notices.append(box);
    while (ui.notices.childElementCount > 4) ui.notices.firstElementChild.remove();
    if (ms) setTimeout(() => box.remove(), ms);
    return box;
  }

  // ------------------------------------------------------------------ connection state UI
  function setStatus(status) {
    state.status = status;
    ui.conn.dataset.state = status;
    ui.retryNow.hidden = status !== 'offline';
    clearInterval(state.countdownTimer);
    if (status === 'offline') {
      const tick = () => {
        const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
        ui.connText.textContent = s > 0 ? `Offline — retrying in ${s} s` : 'Offline — retrying…';
      };
      tick();
      state.countdownTimer = setInterval(tick, 500);
    } else {
      ui.connText.textContent = status === 'connected' ? 'Connected' : 'Connecting…';
    }
    updateComposer();
  }

  // ------------------------------------------------------------------ socket
  function socketUrl() {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const params = [];
    const name = state.wantedName || state.me;
    if (name) params.push(`name=${encodeURIComponent(name)}`);
    const d = roomData(state.room);
    if (d.maxId > 0) params.push(`since=${d.maxId}`);
    return `${proto}://${location.host}/ws/${state.room}${params.length ? '?' + params.join('&') : ''}`;
  }

  /** Opens a new socket to the wanted room (closing any old one). */
  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    if (state.ws) { const old = state.ws; state.ws = null; try { old.close(1000); } catch { /* ignore */ } }
    state.welcomed = false;
    state.joinSentFor = state.room;
    setStatus('connecting');
    let ws;
    try { ws = new WebSocket(socketUrl()); } catch (err) { notice(`Cannot connect: ${err.message}`); scheduleReconnect(); return; }
    state.ws = ws;
    ws.addEventListener('message', (ev) => { if (ws === state.ws) handleFrame(ev.data); });
    ws.addEventListener('close', (ev) => { if (ws === state.ws) onClose(ev); });
  }

  /** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). */
  function scheduleReconnect() {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** state.attempt);
    const delay = Math.random() * ceiling;
    state.attempt = Math.min(state.attempt + 1, 30);
    state.retryAt = Date.now() + delay;
    clearTimeout(state.retryTimer);
    state.retryTimer = setTimeout(connect, delay);
    setStatus('offline');
  }

  function onClose(ev) {
    const wasWelcomed = state.welcomed;
    state.ws = null;
    state.welcomed = false;
    clearTimeout(state.stableTimer);
    clearTypers();
    // Sent but unacknowledged messages wait for the replay after the reconnect.
    for (const p of state.pending.values()) if (p.status === 'sent') setPendingStatus(p, 'unconfirmed');
    const why = CLOSE_TEXT[ev.code] || `The connection closed (code ${ev.code}).`;
    if (wasWelcomed || ev.code !== 1006) {
      addSystem(ev.reason ? `${why} (${ev.reason})` : why, 'warn');
      if ([1003, 1007, 1008, 1009, 1011].includes(ev.code)) notice(why);
    }
    scheduleReconnect();
  }

  function sendFrame(frame) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return false;
    state.ws.send(JSON.stringify(frame));
    if (frame.type === 'typing') state.lastTypingFrameAt = Date.now();
    return true;
  }

  // ------------------------------------------------------------------ incoming frames
  function handleFrame(data) {
    let f;
    try { f = JSON.parse(data); } catch { notice('The server sent a frame that is not JSON.'); return; }
    if (!f || typeof f !== 'object' || Array.isArray(f)) return;
    const handler = HANDLERS[f.type === undefined ? 'message' : f.type];
    if (handler) handler(f);
    else console.info('chatd: ignoring unknown server frame type', f.type);
  }

  function onWelcome(w) {
    const room = typeof w.room === 'string' ? w.room : state.room;
    const first = !state.welcomed;
    state.welcomed = true;
    const oldMe = state.me;
    if (typeof w.username === 'string') state.me = w.username;
    if (first && state.wantedName && state.me && state.me !== state.wantedName) {
      notice(`${state.wantedName} is taken; you are ${state.me}.`, 'info');
    }
    if (oldMe && state.me !== oldMe) restyleOwn();
    state.limits = (w.limits && typeof w.limits === 'object') ? w.limits : {};

    const d = roomData(room);
    d.members.clear();
    for (const u of Array.isArray(w.users) ? w.users : []) d.members.set(String(u).toLowerCase(), String(u));
    d.userCount = typeof w.user_count === 'number' ? w.user_count : d.members.size;
    // last_id (extension): the room's newest id. Lower than ours: the server's ids started over.
    if (typeof w.last_id === 'number' && w.last_id < d.maxId) resetIds(d);
    d.checkReset = d.maxId > 0;
    // The replay (history:true) belongs where the welcome arrived, before notices that follow it.
    d.replayAfter = [...d.list.children].reverse().find((r) => !r.classList.contains('pending')) || 'start';

    if (room !== state.room && state.joinSentFor !== state.room) {
      // The user picked another room while this socket was opening.
      sendFrame({ type: 'join', room: state.room });
      state.joinSentFor = state.room;
    }
    setStatus('connected');
    clearTimeout(state.stableTimer);
    state.stableTimer = setTimeout(() => { state.attempt = 0; }, STABLE_AFTER_MS);

    if (room === state.room) { renderRoomChrome(); scrollToBottom(); }
    ui.nickInput.value = state.me || '';
    flushOutbox(room);
    setTimeout(failUnconfirmed, UNCONFIRMED_GRACE_MS);
  }

  function onMessage(m) {
    const room = typeof m.room === 'string' ? m.room : state.room;
    const d = roomData(room);
    const id = typeof m.id === 'number' ? m.id : null;
    const p = matchPending(m);

    if (id !== null && !m.history && d.checkReset) {
      d.checkReset = false;
      if (id <= d.maxId) resetIds(d);
    }
    if (id !== null && d.ids.has(id)) { if (p) dropPending(p); return; }   // never show an id twice
    const newest = id !== null && id > d.maxId;
    if (id !== null) rememberId(d, id);

    const own = !!p || (state.me !== null && m.username === state.me);
    const li = messageRow(m, own);
    const shown = room === state.room;
    const wasNear = shown && nearBottom();
    if (p && p.el.parentNode === d.list && (id === null || newest)) {
      p.el.replaceWith(li);
      regroup(li); regroup(li.nextElementSibling);
      forgetPending(p);
    } else {
      if (p) dropPending(p);
      if (newest && m.history && d.replayAfter) insertReplayed(d, li);
      else if (id !== null) insertById(d, li, id);
      else { d.list.insertBefore(li, d.list.querySelector(':scope > .pending')); regroup(li); }
    }
    clearTyper(m.username);
    updateOlderButton();
    if (!shown) return;
    if (m.history) { if (wasNear) scrollToBottom(); return; }
    afterLiveAdd(wasNear, own);
    if (!own) announce(`${m.username}: ${m.text}`);
  }

  function onSystem(e) {
    if (e.event === 'presence') return onPresence(e); // big rooms: one summary for many joins/leaves
    const room = typeof e.room === 'string' ? e.room : state.room;
    const d = roomData(room);
    const name = String(e.username ?? '');
    let text = typeof e.message === 'string' ? e.message : '';
    if (e.event === 'join') {
      if (!d.members.has(name.toLowerCase())) d.userCount += 1;
      d.members.set(name.toLowerCase(), name);
      text ||= `${name} joined`;
    } else if (e.event === 'leave') {
      d.members.delete(name.toLowerCase());
      d.userCount = Math.max(d.members.size, d.userCount - 1);
      clearTyper(name);
      text ||= `${name} left`;
    } else if (e.event === 'rename') {
      const old = String(e.old ?? '');
      renameEverywhere(old, name);
      text ||= `${old} is now ${name}`;
      if (state.me !== null && old === state.me) onOwnRename(old, name, e.requested);
    }
    if (text) addSystem(text, null, room, e.ts);
    if (room === state.room) renderMembers();
  }

  /** A rename changes the member list of every room we keep. */
  function renameEverywhere(old, name) {
    for (const d of state.roomData.values()) {
      if (d.members.delete(old.toLowerCase())) d.members.set(name.toLowerCase(), name);
    }
    clearTyper(old);
  }

  function onOwnRename(old, name, requested) {
    state.me = name;
    ui.nickInput.value = name;
    if (typeof requested === 'string' && requested !== name) {
      notice(`${requested} is taken; you are ${name}.`, 'info');
    }
    restyleOwn();
  }

  /** Own-message styling follows the current server-given name. */
  function restyleOwn() {
    for (const d of state.roomData.values()) {
      for (const li of d.list.querySelectorAll(':scope > .msg:not(.private):not(.pending)')) {
        const own = li.dataset.author === state.me;
        li.classList.toggle('own', own);
        const tag = li.querySelector('.you-tag');
        if (own && !tag) li.querySelector('.author').after(el('span', 'you-tag', '(you)'));
        if (!own && tag) tag.remove();
      }
    }
  }

  function onTyping(t) {
    const room = typeof t.room === 'string' ? t.room : state.room;
    const name = String(t.username ?? '');
    if (room !== state.room || !name || name === state.me) return;
    if (t.stopped === true) { clearTyper(name); return; }   // extension: the indicator ended early
    clearTimeout(state.typers.get(name));
    state.typers.set(name, setTimeout(() => clearTyper(name), TYPING_SHOW_MS));
    renderTyping();
  }

  function onPrivate(pm) {
    if (pm.id !== undefined) {
      if (state.privateIds.has(pm.id)) return;
      state.privateIds.add(pm.id);
    }
    const mine = state.me !== null && pm.from === state.me;
    const p = matchPendingPrivate(pm, mine);
    const d = current();
    const wasNear = nearBottom();
    const li = privateRow(pm.from, pm.to, pm.text, pm.ts, mine);
    if (p && p.el.parentNode === d.list) { p.el.replaceWith(li); forgetPending(p); }
    else { if (p) dropPending(p); d.list.insertBefore(li, d.list.querySelector(':scope > .pending')); }
    afterLiveAdd(wasNear, mine);
    if (!mine) announce(`Private message from ${pm.from}: ${pm.text}`);
  }

  /** Answer to a history request: prepend older messages, keeping the reader's place. */
  function onHistory(h) {
    const room = typeof h.room === 'string' ? h.room : state.room;
    const d = roomData(room);
    const list = Array.isArray(h.messages) ? h.messages.slice() : [];
    list.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
    const shown = room === state.room;
    const anchor = shown ? captureAnchor() : null;
    for (const m of list) {
      if (typeof m.id !== 'number' || d.ids.has(m.id)) continue;
      rememberId(d, m.id);
      insertById(d, messageRow(m, state.me !== null && m.username === state.me), m.id);
    }
    d.hasMore = typeof h.has_more === 'boolean' ? h.has_more : list.length >= HISTORY_PAGE;
    d.loadingOlder = false;
    updateOlderButton();                       // may hide the button: do it before restoring the place
    if (shown) restoreAnchor(anchor);
  }

  function onUsers(u) {
    const room = typeof u.room === 'string' ? u.room : state.room;
    const d = roomData(room);
    d.members.clear();
    for (const n of Array.isArray(u.users) ? u.users : []) d.members.set(String(n).toLowerCase(), String(n));
    d.userCount = typeof u.user_count === 'number' ? u.user_count : d.members.size;
    if (room === state.room) renderMembers();
  }

  /** Big rooms coalesce joins and leaves into periodic presence summaries. */
  function onPresence(p) {
    const room = typeof p.room === 'string' ? p.room : state.room;
    const d = roomData(room);
    const joined = Array.isArray(p.joined) ? p.joined.map(String) : [];
    const left = Array.isArray(p.left) ? p.left.map(String) : [];
    for (const n of joined) d.members.set(n.toLowerCase(), n);
    for (const n of left) { d.members.delete(n.toLowerCase()); clearTyper(n); }
    if (typeof p.count === 'number') d.userCount = p.count;
    const parts = [];
    if (joined.length) parts.push(`${nameSummary(joined)} joined`);
    if (left.length) parts.push(`${nameSummary(left)} left`);
    if (parts.length) addSystem(parts.join(' · '), 'presence', room);
    if (room === state.room) renderMembers();
  }

  function nameSummary(names) {
    if (names.length <= 3) return names.join(', ');
    return `${names.slice(0, 3).join(', ')} and ${names.length - 3} others`;
  }

  function onError(e) {
    const code = typeof e.code === 'string' ? e.code : 'error';
    const serverText = typeof e.message === 'string' ? e.message : '';
    let text = ERROR_TEXT[code] || `The server refused a request (${code}).`;
    if (serverText && serverText !== text) text += ` ${serverText}`;
    if (code === 'rate_limited' && typeof e.retry_after_ms === 'number') {
      const at = new Date(Date.now() + e.retry_after_ms);
      text += ` You can send again in ${(e.retry_after_ms / 1000).toFixed(1)} s (at ${hhmm(at)}:${pad2(at.getSeconds())}).`;
    }
    if (code === 'unknown_type' && optionalUnsupported(serverText)) return;
    if (['rate_limited', 'too_large', 'no_such_user', 'bad_request'].includes(code)) failOldestSent(code, text, e.retry_after_ms);
    notice(`${text} [${code}]`, 'error');
  }

  /**
   * typing and history need server plugins; without them the server answers unknown_type.
   * Say so once, in plain words, and stop using that feature instead of repeating the error.
   */
  function optionalUnsupported(serverText) {
    const d = current();
    let type = null;
    if (/\btyping\b/.test(serverText) || (!/\bhistory\b/.test(serverText) && Date.now() - state.lastTypingFrameAt < 1500)) type = 'typing';
    else if (/\bhistory\b/.test(serverText) || d.loadingOlder) type = 'history';
    if (!type) return false;
    if (type === 'history') {
      for (const rd of state.roomData.values()) { rd.loadingOlder = false; rd.hasMore = false; }
      updateOlderButton();
    }
    if (!state.unsupported.has(type)) {
      state.unsupported.add(type);
      notice(type === 'typing'
        ? 'This server does not relay typing indicators (no typing plugin). [unknown_type]'
        : 'This server keeps no message history, so older messages cannot be loaded (no history plugin). [unknown_type]', 'info');
    }
    return true;
  }

  const HANDLERS = {
    welcome: onWelcome, message: onMessage, system: onSystem, typing: onTyping,
    private: onPrivate, history: onHistory, users: onUsers, presence: onPresence, error: onError,
  };

  // ------------------------------------------------------------------ pending outgoing messages
  function pendingRow(p) {
    const li = p.priv
      ? privateRow(state.me ?? 'you', p.priv.to, p.priv.text, Date.now(), true)
      : messageRow({ username: state.me ?? 'you', text: p.frame.text, ts: Date.now() }, true);
    li.classList.add('pending');
    const st = el('span', 'pending-state');
    li.querySelector('.meta').append(st);
    return li;
  }

  const PENDING_TEXT = {
    queued: 'waiting for connection…', sent: 'sending…', unconfirmed: 'checking delivery…', failed: 'not sent',
  };

  function setPendingStatus(p, status, why) {
    p.status = status;
    p.el.classList.toggle('failed', status === 'failed');
    const st = p.el.querySelector('.pending-state');
    st.textContent = why ? `${PENDING_TEXT[status]}: ${why}` : PENDING_TEXT[status];
    let retry = p.el.querySelector('.retry-btn');
    if (status === 'failed' && !retry) {
      retry = el('button', 'link-btn retry-btn', 'Retry');
      retry.type = 'button';
      retry.addEventListener('click', () => resendPending(p));
      st.after(retry);
    } else if (status !== 'failed' && retry) {
      retry.remove();
    }
  }

  /** Queues or sends a chat message; it shows as pending until its echo arrives. */
  function sendChat(text, priv) {
    const max = state.limits.max_message_bytes;
    if (typeof max === 'number' && byteLength(text) > max) {
      notice(`That message is ${byteLength(text)} bytes; the limit is ${max}. Shorten it before sending.`);
      return false;
    }
    const cid = `c${++state.clientSeq}`;
    const p = { cid, frame: { type: 'message', text, client_id: cid }, room: state.room, priv, status: 'queued', el: null };
    p.el = pendingRow(p);
    state.pending.set(cid, p);
    current().list.append(p.el);
    setPendingStatus(p, 'queued');
    if (state.status === 'connected' && sendFrame(p.frame)) setPendingStatus(p, 'sent');
    state.lastTypingSent = 0;   // a message ends typing: the next keystroke announces it again
    scrollToBottom();
    return true;
  }

  function resendPending(p) {
    if (state.status === 'connected' && p.room === state.room && sendFrame(p.frame)) setPendingStatus(p, 'sent');
    else setPendingStatus(p, 'queued');
  }

  /** After a welcome, send what was queued for that room while offline, in order. */
  function flushOutbox(room) {
    for (const p of state.pending.values()) {
      if (p.status === 'queued' && p.room === room && sendFrame(p.frame)) setPendingStatus(p, 'sent');
    }
  }

  /** Finds the pending message an echo acknowledges (client_id, or a replayed copy of our text). */
  function matchPending(m) {
    if (typeof m.client_id === 'string' && state.pending.has(m.client_id)) return state.pending.get(m.client_id);
    if (m.history && m.username === state.me) {
      for (const p of state.pending.values()) {
        if (p.status === 'unconfirmed' && !p.priv && p.frame.text.trim() === String(m.text).trim()) return p;
      }
    }
    return null;
  }

  function matchPendingPrivate(pm, mine) {
    if (typeof pm.client_id === 'string' && state.pending.has(pm.client_id)) return state.pending.get(pm.client_id);
    if (!mine) return null;
    for (const p of state.pending.values()) {
      if (p.priv && p.status === 'sent' && sameName(p.priv.to, pm.to) && p.priv.text.trim() === String(pm.text).trim()) return p;
    }
    return null;
  }

  /** An error answers the oldest in-flight message (frames are answered in order). */
  function failOldestSent(code, text, retryAfter) {
    const sent = [...state.pending.values()].filter((p) => p.status === 'sent');
    const p = (code === 'no_such_user' ? sent.find((x) => x.priv) : null) || sent[0];
    if (!p) return;
    setPendingStatus(p, 'failed', ERROR_TEXT[code] ? ERROR_TEXT[code].replace(/\.$/, '') : code);
    if (code === 'rate_limited' && typeof retryAfter === 'number') {
      const btn = p.el.querySelector('.retry-btn');
      if (btn) { btn.disabled = true; setTimeout(() => { btn.disabled = false; }, retryAfter); }
    }
  }

  /** Unconfirmed messages that no replay acknowledged are offered for a manual retry. */
  function failUnconfirmed() {
    if (state.status !== 'connected') return;
    for (const p of state.pending.values()) {
      if (p.status === 'unconfirmed') setPendingStatus(p, 'failed', 'the connection dropped before the server confirmed it');
    }
  }

  function forgetPending(p) { state.pending.delete(p.cid); }
  function dropPending(p) { p.el.remove(); forgetPending(p); }

  // ------------------------------------------------------------------ typing indicator
  function clearTyper(name) {
    if (!state.typers.has(name)) return;
    clearTimeout(state.typers.get(name));
    state.typers.delete(name);
    renderTyping();
  }

  function clearTypers() {
    for (const t of state.typers.values()) clearTimeout(t);
    state.typers.clear();
    renderTyping();
  }

  function renderTyping() {
    const names = [...state.typers.keys()];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    ui.typing.textContent = text;
  }

  function maybeSendTyping() {
    const v = ui.input.value;
    if (!v.trim() || v.startsWith('/') || state.status !== 'connected' || state.unsupported.has('typing')) return;
    const now = Date.now();
    if (now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    state.lastTypingSent = now;
    sendFrame({ type: 'typing' });
  }

  // ------------------------------------------------------------------ room list, members, header
  function renderRoomList() {
    ui.roomList.replaceChildren();
    for (const room of state.rooms) {
      const li = el('li', room === state.room ? 'room current' : 'room');
      const link = el('a', 'room-link', `# ${room}`);
      link.href = `#${room}`;
      if (room === state.room) link.setAttribute('aria-current', 'page');
      link.addEventListener('click', (ev) => { ev.preventDefault(); goRoom(room); closeSidebar(); });
      li.append(link);
      if (room !== state.room) {
        const rm = el('button', 'icon-btn room-remove', '×');
        rm.type = 'button';
        rm.setAttribute('aria-label', `Remove #${room} from the list`);
        rm.addEventListener('click', () => forgetRoom(room));
        li.append(rm);
      }
      ui.roomList.append(li);
    }
  }

  function rememberRoom(room) {
    if (!state.rooms.includes(room)) state.rooms.push(room);
    save(STORE_ROOMS, state.rooms);
    save(STORE_ROOM, room);
  }

  function forgetRoom(room) {
    state.rooms = state.rooms.filter((r) => r !== room);
    save(STORE_ROOMS, state.rooms);
    renderRoomList();
    ui.joinInput.focus();
  }

  function renderMembers() {
    const d = current();
    const names = [...d.members.values()].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    ui.memberList.replaceChildren();
    for (const name of names) {
      const li = el('li', name === state.me ? 'member me' : 'member');
      const dot = el('span', 'presence-dot');
      dot.setAttribute('aria-hidden', 'true');
      li.append(dot, el('span', 'member-name', name));
      if (name === state.me) li.append(el('span', 'you-tag', '(you)'));
      ui.memberList.append(li);
    }
    const total = Math.max(d.userCount, names.length);
    if (total > names.length) ui.memberList.append(el('li', 'member more', `and ${total - names.length} more`));
    ui.peopleCount.textContent = `(${total})`;
    ui.headerCount.textContent = describeRoomCount(total);
  }

  /** Everything that names the current room: title, list, placeholders, log. */
  function renderRoomChrome() {
    const room = state.room;
    const d = current();
    ui.roomTitle.textContent = room;
    document.title = `#${room} · chatd`;
    ui.msgLabel.textContent = `Message #${room}`;
    ui.input.placeholder = `Message #${room}`;
    if (ui.logHolder.firstElementChild !== d.list) ui.logHolder.replaceChildren(d.list);
    renderRoomList();
    renderMembers();
    updateOlderButton();
  }

  function updateOlderButton() {
    const d = current();
    // Ids are positive integers: with id 1 shown there is nothing older to ask for.
    ui.loadOlder.hidden = !(d.ids.size > 0 && d.minId > 1 && d.hasMore !== false && !state.unsupported.has('history'));
    ui.loadOlder.disabled = d.loadingOlder;
    ui.loadOlder.textContent = d.loadingOlder ? 'Loading…' : 'Load older messages';
  }

  function loadOlder() {
    const d = current();
    if (d.loadingOlder || !d.ids.size || state.status !== 'connected') return;
    d.loadingOlder = true;
    sendFrame({ type: 'history', before: d.minId, limit: HISTORY_PAGE });
    updateOlderButton();
  }

  // ------------------------------------------------------------------ switching rooms
  /** Asks to show a room: validated, then through the URL hash (so back/forward work). */
  function goRoom(room) {
    const why = roomProblem(room);
    if (why) { ui.joinError.textContent = why; notice(`Cannot join “${room}”: ${why}`); return false; }
    ui.joinError.textContent = '';
    if (hashRoom() !== room) location.hash = room;
    else switchRoom(room);
    return true;
  }

  /** Switches on the same socket with a join frame; the server answers with a new welcome. */
  function switchRoom(room) {
    if (room === state.room) { renderRoomChrome(); return; }
    state.room = room;
    rememberRoom(room);
    clearTypers();
    state.unseen = 0;
    ui.jumpNew.hidden = true;
    renderRoomChrome();
    scrollToBottom();
    if (state.ws && state.welcomed && state.ws.readyState === WebSocket.OPEN) {
      sendFrame({ type: 'join', room });
      state.joinSentFor = room;
    } else if (state.status === 'offline') {
      connect();                       // the user acted: try now rather than wait for the timer
    }                                  // connecting: onWelcome sends the join
  }

  function onHashChange() {
    const room = hashRoom();
    if (!room) return;
    const why = roomProblem(room);
    if (why) { notice(`Cannot open “${room}”: ${why}`); return; }
    switchRoom(room);
  }

  // ------------------------------------------------------------------ commands and composer
  function setName(name) {
    const clean = name.trim();
    const why = nameProblem(clean);
    if (why) { ui.nickError.textContent = why; notice(why); return false; }
    ui.nickError.textContent = '';
    state.wantedName = clean;
    save(STORE_NAME, clean);
    if (clean === state.me) return true;
    if (state.status === 'connected') sendFrame({ type: 'nick', username: clean });
    else addSystem(`You will be ${clean} once reconnected.`);
    return true;
  }

  /** Runs a /command typed in the composer; returns true when the input can be cleared. */
  function runCommand(line) {
    const [, cmd = '', rest = ''] = line.match(/^\/(\S*)\s*([\s\S]*)$/) || [];
    switch (cmd.toLowerCase()) {
      case 'msg': {
        const m = rest.match(/^(\S+)\s+([\s\S]*\S[\s\S]*)$/);
        if (!m) { notice('Usage: /msg NAME TEXT'); return false; }
        return sendChat(line.trim(), { to: m[1], text: m[2].trim() });
      }
      case 'nick':
        if (!rest.trim()) { notice('Usage: /nick NAME'); return false; }
        return setName(rest);
      case 'join':
        if (!rest.trim()) { notice('Usage: /join ROOM'); return false; }
        return goRoom(rest.trim());
      case 'who':
        if (!sendFrame({ type: 'who' })) { notice('Not connected.'); return false; }
        return true;
      case 'help':
        addSystem(`Commands: ${HELP_LINES.join(' · ')}`, 'help');
        return true;
      default:
        notice(`Unknown command /${cmd}. Type /help for the list, or start with // to send a slash.`);
        return false;
    }
  }

  function onSubmit(ev) {
    ev.preventDefault();
    const raw = ui.input.value;
    const text = raw.trim();
    if (!text) return;
    let ok;
    if (text.startsWith('/') && !text.startsWith('//')) ok = runCommand(text);
    else ok = sendChat(text.startsWith('//') ? text.slice(1) : text, null);
    if (ok) { ui.input.value = ''; onInput(); }
  }

  /** Byte counter, size guard and auto-grow of the message box. */
  function updateComposer() {
    const v = ui.input.value;
    const bytes = byteLength(v.trim());
    const max = state.limits.max_message_bytes;
    const over = typeof max === 'number' && bytes > max;
    ui.byteCounter.textContent = typeof max === 'number' ? `${bytes} / ${max} bytes` : `${bytes} bytes`;
    ui.byteCounter.classList.toggle('over', over);
    ui.byteCounter.classList.toggle('near', !over && typeof max === 'number' && bytes > max * 0.9);
    ui.input.setAttribute('aria-invalid', over ? 'true' : 'false');
    ui.composer.querySelector('.send-btn').disabled = over;
  }

  function onInput() {
    updateComposer();
    ui.input.style.height = 'auto';
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
    maybeSendTyping();
  }

  function onInputKey(ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); ui.composer.requestSubmit(); }
    else if (ev.key === 'Escape') scrollToBottom();
    else if (ev.altKey && (ev.key === 'ArrowUp' || ev.key === 'ArrowDown')) {
      ev.preventDefault();
      const i = state.rooms.indexOf(state.room);
      const next = state.rooms[(i + (ev.key === 'ArrowUp' ? -1 : 1) + state.rooms.length) % state.rooms.length];
      if (next) goRoom(next);
    }
  }

  // ------------------------------------------------------------------ sidebar (small screens)
  function openSidebar() {
    ui.sidebar.classList.add('open');
    ui.scrim.hidden = false;
    ui.toggle.setAttribute('aria-expanded', 'true');
    (ui.sidebar.querySelector('a, input, button') || ui.sidebar).focus();
  }
  function closeSidebar() {
    if (!ui.sidebar.classList.contains('open')) return;
    ui.sidebar.classList.remove('open');
    ui.scrim.hidden = true;
    ui.toggle.setAttribute('aria-expanded', 'false');
  }

  // ------------------------------------------------------------------ start
  function wire() {
    // The skip link must not touch the URL fragment: that names the room.
    document.querySelector('.skip-link').addEventListener('click', (ev) => { ev.preventDefault(); ui.input.focus(); });
    ui.composer.addEventListener('submit', onSubmit);
    ui.input.addEventListener('input', onInput);
    ui.input.addEventListener('keydown', onInputKey);
    ui.joinForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (goRoom(ui.joinInput.value.trim())) { ui.joinInput.value = ''; closeSidebar(); ui.input.focus(); }
    });
    ui.joinInput.addEventListener('input', () => {
      const v = ui.joinInput.value.trim();
      ui.joinError.textContent = v ? roomProblem(v) : '';
    });
    ui.nickForm.addEventListener('submit', (ev) => { ev.preventDefault(); if (setName(ui.nickInput.value)) ui.input.focus(); });
    ui.loadOlder.addEventListener('click', loadOlder);
    ui.jumpNew.addEventListener('click', () => { scrollToBottom(); ui.input.focus(); });
    ui.scroller.addEventListener('scroll', () => { if (nearBottom()) { state.unseen = 0; ui.jumpNew.hidden = true; } });
    ui.retryNow.addEventListener('click', () => { state.attempt = 0; connect(); });
    ui.toggle.addEventListener('click', () => (ui.sidebar.classList.contains('open') ? closeSidebar() : openSidebar()));
    ui.scrim.addEventListener('click', closeSidebar);
    document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape' && ui.sidebar.classList.contains('open')) { closeSidebar(); ui.toggle.focus(); } });
    window.addEventListener('hashchange', onHashChange);
    window.addEventListener('online', () => { if (state.status === 'offline') connect(); });
  }

  function init() {
    const fromUrl = new URLSearchParams(location.search).get('name');
    const stored = load(STORE_NAME, null);
    const name = (fromUrl && !nameProblem(fromUrl.trim())) ? fromUrl.trim() : (typeof stored === 'string' ? stored : null);
    if (name) { state.wantedName = name; save(STORE_NAME, name); }

    const rooms = load(STORE_ROOMS, []);
    state.rooms = Array.isArray(rooms) ? rooms.filter((r) => typeof r === 'string' && !roomProblem(r)) : [];
    const fromHash = hashRoom();
    const lastRoom = load(STORE_ROOM, null);
    if (fromHash && !roomProblem(fromHash)) state.room = fromHash;
    else if (typeof lastRoom === 'string' && !roomProblem(lastRoom)) state.room = lastRoom;
    if (fromHash && roomProblem(fromHash)) notice(`Cannot open “${fromHash}”: ${roomProblem(fromHash)}`);
    rememberRoom(state.room);
    if (hashRoom() !== state.room) history.replaceState(null, '', `#${state.room}`);

    ui.nickInput.value = state.wantedName || '';
    wire();
    renderRoomChrome();
    updateComposer();
    connect();
  }

  init();
})();
