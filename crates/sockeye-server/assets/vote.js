// Sockeye "where to eat" page, over the /vote namespace. User data is only put in the
// page with textContent and DOM properties (img.src), never parsed as HTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const KEY_KEY = 'sockeye.vote.key';
  const PROFILE_KEY = 'sockeye.vote.profile';
  const AREA_RE = /^[\p{L}\p{N} _-]{1,40}$/u;
  const NAME_RE = /^[\p{L}\p{N} ._'-]{1,24}$/u;

  const state = { area: areaFromUrl(), you: null, view: null, profile: loadProfile(), joined: false };

  function areaFromUrl() {
    const match = location.pathname.match(/^\/vote\/(.+)$/);
    if (!match) return null;
    try { return decodeURIComponent(match[1]).trim(); } catch { return ''; }
  }

  function storageGet(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  }
  function storageSet(key, value) {
    try { localStorage.setItem(key, value); } catch { /* private mode: forgotten on reload */ }
  }
  function voterKey() {
    let key = storageGet(KEY_KEY);
    if (!key || !/^[A-Za-z0-9_-]{8,64}$/.test(key)) {
      const bytes = crypto.getRandomValues(new Uint8Array(16));
      key = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
      storageSet(KEY_KEY, key);
    }
    return key;
  }
  function loadProfile() {
    try {
      const p = JSON.parse(storageGet(PROFILE_KEY) || 'null');
      if (p && typeof p.name === 'string') return { name: p.name, picture: typeof p.picture === 'string' ? p.picture : '' };
    } catch { /* ignore a damaged profile */ }
    return null;
  }
  function validPicture(url) {
    if (!url) return true;
    if (url.length > 500 || /[\s"'<>\\]/.test(url)) return false;
    try {
      const u = new URL(url);
      return (u.protocol === 'http:' || u.protocol === 'https:') && Boolean(u.host);
    } catch { return false; }
  }

  function show(view) {
    for (const id of ['areas-view', 'profile-view', 'area-view']) $(id).hidden = id !== view;
  }
  function status(text) {
    $('status').textContent = text || '';
    $('status').hidden = !text;
  }

  // Pictures that failed to load: shown as initials from then on, without asking again
  // at every update of the area.
  const brokenPictures = new Set();

  /** A round picture, or the initials when there is none or it fails to load. */
  function avatar(name, picture) {
    const initials = () => {
      const span = document.createElement('span');
      span.className = 'avatar initials';
      span.setAttribute('aria-hidden', 'true');
      span.textContent = String(name).split(/\s+/).filter(Boolean).slice(0, 2)
        .map((w) => [...w][0].toUpperCase()).join('') || '?';
      return span;
    };
    if (!picture || brokenPictures.has(picture)) return initials();
    const img = document.createElement('img');
    img.className = 'avatar';
    img.alt = '';
    img.referrerPolicy = 'no-referrer';
    img.addEventListener('error', () => {
      brokenPictures.add(picture);
      img.replaceWith(initials());
    }, { once: true });
    img.src = picture;
    return img;
  }

  const { socket, request } = SockeyeApp.connect('/vote', {
    onStatus: (text) => status(text),
    onConnect: () => start(),
  });
  socket.on('state', (view) => { if (state.joined && view && view.area === state.area) render(view); });

  function start() {
    status('');
    if (state.area === null) return showAreas();
    if (!AREA_RE.test(state.area)) {
      show('areas-view');
      $('area-error').textContent = 'That is not a valid area name. Pick another one.';
      return showAreas();
    }
    if (!state.profile) return askProfile();
    join();
  }

  async function showAreas() {
    show('areas-view');
    const res = await request('areas');
    const list = $('area-list');
    list.replaceChildren();
    for (const a of res.ok ? res.areas : []) {
      const li = document.createElement('li');
      const link = document.createElement('a');
      link.href = `/vote/${encodeURIComponent(a.name)}`;
      link.dataset.area = a.name;
      const name = document.createElement('span');
      name.textContent = a.name;
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = String(a.voters);
      link.append(name, count);
      li.append(link);
      list.append(li);
    }
  }

  $('area-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const area = $('area-input').value.trim();
    if (!AREA_RE.test(area)) {
      $('area-error').textContent = 'Use 1–40 letters, digits, spaces, - and _.';
      return;
    }
    location.href = `/vote/${encodeURIComponent(area)}`;
  });

  function askProfile(error) {
    show('profile-view');
    $('name-input').value = state.profile ? state.profile.name : '';
    $('picture-input').value = state.profile ? state.profile.picture : '';
    $('profile-error').textContent = error || '';
    $('name-input').focus();
  }

  $('profile-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('name-input').value.trim();
    const picture = $('picture-input').value.trim();
    if (!NAME_RE.test(name)) {
      $('profile-error').textContent = 'Use 1–24 letters, digits, spaces, - _ . or \'.';
      return;
    }
    if (!validPicture(picture)) {
      $('profile-error').textContent = 'The picture must be an http:// or https:// address.';
      return;
    }
    state.profile = { name, picture };
    storageSet(PROFILE_KEY, JSON.stringify(state.profile));
    if (state.area === null) return showAreas();
    join();
  });

  $('edit-profile').addEventListener('click', () => askProfile());

  async function join() {
    const res = await request('join', {
      area: state.area, key: voterKey(), name: state.profile.name, picture: state.profile.picture || null,
    });
    if (!res.ok) {
      if (res.code === 'invalid') return askProfile(res.error);
      show('area-view');
      $('vote-error').textContent = res.error;
      return;
    }
    state.you = res.you;
    state.joined = true;
    show('area-view');
    $('area-title').textContent = state.area;
    document.title = `${state.area} · Where to eat`;
    const me = res.state.votes.find((v) => v.id === state.you);
    $('whoami').textContent = me ? `You are ${me.name}` : '';
    $('whoami').hidden = !me;
    $('edit-profile').hidden = false;
    render(res.state);
  }

  async function vote(place) {
    const res = await request('vote', { place });
    $('vote-error').textContent = res.ok ? '' : res.error;
    return res.ok;
  }

  $('place-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const place = $('place-input').value.trim();
    if (!place) return;
    if (await vote(place)) $('place-input').value = '';
  });

  function render(view) {
    state.view = view;
    const mine = view.votes.find((v) => v.id === state.you);
    const myPlace = mine ? mine.place : null;

    const places = $('place-list');
    places.replaceChildren();
    const counts = new Map(view.tally.map((t) => [t.place, t.count]));
    for (const name of view.places) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'place';
      b.dataset.place = name;
      const label = document.createElement('span');
      label.textContent = name;
      const count = document.createElement('span');
      count.textContent = String(counts.get(name) || 0);
      b.append(label, count);
      if (name === myPlace) {
        b.classList.add('chosen');
        b.setAttribute('aria-pressed', 'true');
        b.title = 'Your vote (click to withdraw)';
        b.addEventListener('click', () => vote(null));
      } else {
        b.setAttribute('aria-pressed', 'false');
        b.addEventListener('click', () => vote(name));
      }
      li.append(b);
      places.append(li);
    }
    $('no-places').hidden = view.places.length > 0;

    const tally = $('tally');
    tally.replaceChildren();
    const top = view.tally.length ? view.tally[0].count : 1;
    for (const line of view.tally) {
      const li = document.createElement('li');
      li.dataset.place = line.place;
      const name = document.createElement('span');
      name.className = 'tally-place';
      name.textContent = line.place;
      const count = document.createElement('strong');
      count.className = 'tally-count';
      count.textContent = String(line.count);
      const bar = document.createElement('div');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.round((line.count / top) * 100)}%`;
      bar.append(fill);
      li.append(name, count, bar);
      tally.append(li);
    }
    $('no-votes').hidden = view.tally.length > 0;

    const voters = $('voter-list');
    voters.replaceChildren();
    for (const v of view.votes) {
      const li = document.createElement('li');
      li.className = 'voter';
      li.dataset.voter = v.name;
      const text = document.createElement('div');
      const name = document.createElement('div');
      name.className = 'name';
      name.textContent = v.id === state.you ? `${v.name} (you)` : v.name;
      const choice = document.createElement('div');
      choice.className = 'choice';
      choice.textContent = v.place ? `→ ${v.place}` : 'has not voted yet';
      text.append(name, choice);
      li.append(avatar(v.name, v.picture), text);
      voters.append(li);
    }
  }
})();
