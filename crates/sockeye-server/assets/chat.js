// Sockeye chat page: nickname, rooms list and one room, over the /chat namespace.
// User data is only ever put in the page with textContent, never parsed as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const NICK_KEY = 'sockeye.chat.nick';
  const ROOM_RE = /^[\p{L}\p{N} _-]{1,40}$/u;
  const NICK_RE = /^[\p{L}\p{N} ._'-]{1,24}$/u;

  const state = {
    room: roomFromUrl(), // null on the rooms page
    sessionNick: null, // imposed by the auth session
    nick: null, // the nickname we ask for
    myNick: null, // the one granted in the room (may carry a suffix)
    users: [],
    privateTo: null,
  };

  function roomFromUrl() {
    const match = location.pathname.match(/^\/chat\/(.+)$/);
    let raw = match ? match[1] : new URLSearchParams(location.search).get('room');
    if (raw === null || raw === undefined) return null;
    if (match) {
      try { raw = decodeURIComponent(raw); } catch { return ''; }
    }
    return raw.trim();
  }

  function loadNick() {
    try { return localStorage.getItem(NICK_KEY); } catch { return null; }
  }
  function saveNick(nick) {
    try { localStorage.setItem(NICK_KEY, nick); } catch { /* private mode: ask again next time */ }
  }
  function forgetNick() {
    try { localStorage.removeItem(NICK_KEY); } catch { /* nothing to forget */ }
  }

  function show(view) {
    for (const id of ['nick-view', 'rooms-view', 'room-view']) $(id).hidden = id !== view;
  }
  function status(text) {
    $('status').textContent = text || '';
    $('status').hidden = !text;
  }
  function showWho() {
    const nick = state.myNick || state.nick;
    $('whoami').textContent = nick ? `You are ${nick}` : '';
    $('whoami').hidden = !nick;
    $('change-nick').hidden = !nick || Boolean(state.sessionNick);
  }

  const { socket, request } = SockeyeApp.connect('/chat', {
    onStatus: (text) => status(text),
    onConnect: () => start(),
  });

  async function start() {
    status('');
    const session = await request('session');
    state.sessionNick = session.ok && typeof session.nick === 'string' ? session.nick : null;
    state.nick = state.sessionNick || loadNick();
    showWho();
    if (!state.nick) return askNick();
    proceed();
  }

  function askNick(error) {
    show('nick-view');
    $('nick-input').value = state.nick || '';
    $('nick-error').textContent = error || '';
    $('nick-input').focus();
  }

  function proceed() {
    if (state.room === null) showRooms();
    else joinRoom();
  }

  $('nick-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const nick = $('nick-input').value.trim();
    if (!NICK_RE.test(nick)) {
      $('nick-error').textContent = 'Use 1–24 letters, digits, spaces, - _ . or \'.';
      return;
    }
    state.nick = nick;
    saveNick(nick);
    showWho();
    proceed();
  });

  $('change-nick').addEventListener('click', () => {
    forgetNick();
    askNick();
  });

  // ---- rooms list ----

  async function showRooms() {
    show('rooms-view');
    document.title = 'Rooms · Sockeye chat';
    const res = await request('rooms');
    if (res.ok) renderRooms(res.rooms);
    else $('room-error').textContent = res.error;
  }

  socket.on('rooms', (rooms) => {
    if (state.room === null) renderRooms(rooms);
  });

  function renderRooms(rooms) {
    const list = $('room-list');
    list.replaceChildren();
    for (const room of Array.isArray(rooms) ? rooms : []) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `/chat/${encodeURIComponent(room.name)}`;
      a.dataset.room = room.name;
      const name = document.createElement('span');
      name.className = 'room-name';
      name.textContent = room.name;
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = room.users === 1 ? '1 person' : `${room.users} people`;
      a.append(name, count);
      li.append(a);
      list.append(li);
    }
    $('no-rooms').hidden = list.children.length > 0;
  }

  $('new-room-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('new-room').value.trim();
    if (!ROOM_RE.test(name)) {
      $('room-error').textContent = 'Use 1–40 letters, digits, spaces, - and _.';
      return;
    }
    location.href = `/chat/${encodeURIComponent(name)}`;
  });

  // ---- one room ----

  async function joinRoom() {
    show('room-view');
    $('room-title').textContent = state.room;
    document.title = `${state.room} · Sockeye chat`;
    if (!ROOM_RE.test(state.room)) {
      $('send-notice').textContent = 'This is not a valid room name. Go back to all rooms and pick another.';
      $('send-form').hidden = true;
      return;
    }
    const res = await request('join', { room: state.room, nick: state.nick });
    if (!res.ok) {
      if (res.code === 'invalid' && /nickname/.test(res.error)) return askNick(res.error);
      $('send-notice').textContent = res.error;
      return;
    }
    state.myNick = res.nick;
    showWho();
    $('messages').replaceChildren();
    for (const m of res.history || []) addMessage(m, true);
    renderUsers(res.users);
    $('send-notice').textContent = '';
    $('message-input').focus();
  }

  function timeOf(at) {
    const t = document.createElement('time');
    const d = new Date(Number(at) || Date.now());
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    return t;
  }

  function append(li) {
    const box = $('messages');
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.append(li);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function addMessage(m, fromHistory) {
    const li = document.createElement('li');
    li.className = 'msg';
    if (m.from === state.myNick) li.classList.add('own');
    if (fromHistory) li.classList.add('history');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = m.from === state.myNick ? 'You' : m.from;
    meta.append(from, timeOf(m.at));
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text;
    li.append(meta, text);
    append(li);
  }

  function addPrivate(m, outgoing) {
    const li = document.createElement('li');
    li.className = 'msg private';
    if (outgoing) li.classList.add('own');
    const meta = document.createElement('div');
    meta.className = 'meta';
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = outgoing ? `You → ${m.to} (private)` : `${m.from} → you (private)`;
    meta.append(from, timeOf(m.at));
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = m.text;
    li.append(meta, text);
    append(li);
  }

  function addNotice(n) {
    const li = document.createElement('li');
    li.className = 'notice';
    li.textContent = n.kind === 'left' ? `${n.nick} has left` : `${n.nick} has joined`;
    append(li);
  }

  function renderUsers(users) {
    state.users = Array.isArray(users) ? users.filter((u) => typeof u === 'string') : [];
    const list = $('user-list');
    list.replaceChildren();
    for (const nick of state.users) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'user';
      b.dataset.nick = nick;
      b.textContent = nick === state.myNick ? `${nick} (you)` : nick;
      if (nick === state.myNick) b.disabled = true;
      else b.addEventListener('click', () => setPrivate(nick));
      li.append(b);
      list.append(li);
    }
    $('user-count').textContent = String(state.users.length);
    if (state.privateTo && !state.users.includes(state.privateTo)) setPrivate(null);
  }

  function setPrivate(nick) {
    state.privateTo = nick;
    const chip = $('private-to');
    chip.hidden = !nick;
    chip.textContent = nick ? `To ${nick} only ✕` : '';
    $('message-input').placeholder = nick ? `Private message to ${nick}` : 'Message the room, or /msg nick text';
    $('message-input').focus();
  }
  $('private-to').addEventListener('click', () => setPrivate(null));

  socket.on('message', (m) => { if (state.myNick) addMessage(m, false); });
  socket.on('private', (m) => { if (state.myNick) addPrivate(m, false); });
  socket.on('notice', (n) => { if (state.myNick) addNotice(n); });
  socket.on('users', renderUsers);

  // `/msg nick text`: nicknames may hold spaces, so prefer the longest nickname of the
  // room that starts the rest of the line.
  function parseMsgCommand(line) {
    const match = line.match(/^\/msg\s+(.+)$/su);
    if (!match) return null;
    const rest = match[1];
    const known = [...state.users].sort((a, b) => b.length - a.length)
      .find((u) => rest.startsWith(`${u} `));
    if (known) return { to: known, text: rest.slice(known.length + 1).trim() };
    const space = rest.indexOf(' ');
    if (space < 0) return { to: rest, text: '' };
    return { to: rest.slice(0, space), text: rest.slice(space + 1).trim() };
  }

  $('send-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('message-input');
    const line = input.value.trim();
    if (!line) return;
    const notice = $('send-notice');
    let res;
    const command = parseMsgCommand(line);
    if (command || state.privateTo) {
      const target = command || { to: state.privateTo, text: line };
      if (!target.text) {
        notice.textContent = 'Write something after the nickname.';
        return;
      }
      res = await request('private', target);
      if (res.ok && res.message) addPrivate(res.message, true);
    } else {
      res = await request('message', line);
    }
    if (res.ok) {
      input.value = '';
      notice.textContent = '';
    } else if (res.code === 'rate_limited') {
      const secs = Math.max(1, Math.ceil((Number(res.retryAfterMs) || 1000) / 1000));
      notice.textContent = `You are sending too fast. Wait ${secs} s and try again.`;
    } else {
      notice.textContent = res.error || 'The message was not sent.';
    }
  });
})();
