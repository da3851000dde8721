// The chat in a real browser with the express-session bridge on (two gateways, one
// redis-server): the test plays the Express backend, writing `sess:<id>` into Redis
// and giving the browser the signed `connect.sid` cookie. The nickname comes from the
// session and is never asked; a browser without a session is refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, launchBrowser, openPage, screenshot, redisCli, expressSessionCookie } from './lib/browser.mjs';

const T = { timeout: 15000 };
const SECRET = 'keyboard cat';
let cluster;
let A;
let B;
let browser;
const opened = [];

before(async () => {
  cluster = await startCluster(2, ['--auth-mode', 'express-session', '--session-secret', SECRET]);
  [A, B] = cluster.nodes;
  browser = await launchBrowser();
});

after(async () => {
  for (const o of opened) await o.context.close().catch(() => {});
  await browser?.close();
  await cluster?.stop();
});

/** Stores a logged-in session for `user` as connect-redis does; returns its id. */
function login(id, user) {
  const session = { cookie: { originalMaxAge: null, httpOnly: true, path: '/' }, authenticated: true, user };
  redisCli(cluster.redis, 'SET', `sess:${id}`, JSON.stringify(session), 'EX', '600');
  return id;
}

/** A browser holding the session cookie for `id`, opened on `path` of `node`. */
async function visit(node, path, id, options = {}) {
  const cookies = id ? [{ name: 'connect.sid', value: expressSessionCookie(id, SECRET), url: node.url }] : [];
  const o = await openPage(browser, { ...options, cookies });
  opened.push(o);
  await o.page.goto(`${node.url}${path}`);
  return o;
}

test('the nickname comes from the session and is not asked, on every gateway', async () => {
  login('alice-session-0001', { id: 1, name: 'Alice Liddell' });
  login('bob-session-00002', { id: 2, name: 'Bob' });

  const alice = await visit(A, '/chat', 'alice-session-0001');
  await alice.page.locator('#rooms-view').waitFor(T);
  assert.equal(await alice.page.locator('#nick-view').isHidden(), true, 'no nickname form');
  await alice.page.locator('#whoami', { hasText: 'You are Alice Liddell' }).waitFor(T);
  assert.equal(await alice.page.locator('#change-nick').isHidden(), true, 'the nickname cannot be changed');
  await screenshot(alice.page, 'chat-session-rooms-desktop');

  await alice.page.goto(`${A.url}/chat/tea%20party`);
  await alice.page.locator('#user-list button', { hasText: 'Alice Liddell (you)' }).waitFor(T);
  const bob = await visit(B, '/chat/tea%20party', 'bob-session-00002', { viewport: { width: 375, height: 740 } });
  await bob.page.locator('#user-list button', { hasText: 'Bob (you)' }).waitFor(T);
  await alice.page.locator('#messages .notice', { hasText: 'Bob has joined' }).waitFor(T);
  assert.equal(await bob.page.locator('#nick-view').isHidden(), true);

  await alice.page.locator('#message-input').fill('tea?');
  await alice.page.locator('#send-form button[type=submit]').click();
  const message = bob.page.locator('#messages .msg', { hasText: 'tea?' });
  await message.waitFor(T);
  assert.equal(await message.locator('.from').textContent(), 'Alice Liddell');

  // A client asking for another nickname still gets the session's.
  const granted = await bob.page.evaluate(() => new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    const s = io('/chat', { forceNew: true });
    s.emit('join', { room: 'tea party', nick: 'Alice Liddell' }, (res) => { s.close(); resolve(res); });
  }));
  assert.equal(granted.ok, true);
  assert.equal(granted.nick, 'Bob-2', 'the session name, made unique in the room');
  await screenshot(bob.page, 'chat-session-room-phone');
  for (const o of [alice, bob]) assert.deepEqual(o.problems, [], 'no console or page errors');
});

test('a browser without a valid session is refused with a clear message', async () => {
  const stranger = await visit(A, '/chat', null);
  await stranger.page.locator('#status', { hasText: 'authentication required' }).waitFor(T);
  assert.equal(await stranger.page.locator('#rooms-view').isHidden(), true);

  // A cookie signed with another secret is refused too.
  login('forged-session-01', { id: 3, name: 'Mallory' });
  const o = await openPage(browser, {
    cookies: [{ name: 'connect.sid', value: expressSessionCookie('forged-session-01', 'not the secret'), url: B.url }],
  });
  opened.push(o);
  await o.page.goto(`${B.url}/chat`);
  await o.page.locator('#status', { hasText: 'signature is invalid' }).waitFor(T);
  assert.equal(await o.page.locator('#rooms-view').isHidden(), true);
  await screenshot(o.page, 'chat-session-refused-desktop');
});
