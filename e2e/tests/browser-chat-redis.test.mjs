// The chat app in a real browser, served by TWO gateways joined by one redis-server
// (`--redis`): users on different gateways share rooms, presence, history, private
// messages and the rooms list, and the history outlives a gateway that dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, launchBrowser, openPage, screenshot, redisCli } from './lib/browser.mjs';

const T = { timeout: 15000 };
// A dead gateway's members go once its liveness entry (20 s) has run out and another
// gateway's housekeeping (every 5 s) notices: allow for a loaded machine.
const DEATH = { timeout: 90000 };
let cluster;
let A;
let B;
let browser;
const opened = [];

before(async () => {
  cluster = await startCluster(2);
  [A, B] = cluster.nodes;
  browser = await launchBrowser();
});

after(async () => {
  for (const o of opened) await o.context.close().catch(() => {});
  await browser?.close();
  await cluster?.stop();
});

/** A user on gateway `node`: picks a nickname, then opens `path` (a room) if given. */
async function user(node, nick, path, options) {
  const o = await openPage(browser, options);
  opened.push(o);
  await o.page.goto(`${node.url}/chat`);
  await o.page.locator('#nick-input').fill(nick);
  await o.page.locator('#nick-form button[type=submit]').click();
  await o.page.locator('#rooms-view').waitFor(T);
  if (path) await o.page.goto(`${node.url}${path}`);
  return o;
}

async function inRoom(o, nick) {
  await o.page.locator('#user-list button', { hasText: nick }).first().waitFor(T);
}

async function send(page, text) {
  await page.locator('#message-input').fill(text);
  await page.locator('#send-form button[type=submit]').click();
}

function users(o) {
  return o.page.locator('#user-list button').allTextContents();
}

function noProblems(...users) {
  for (const u of users) assert.deepEqual(u.problems, [], 'no console or page errors');
}

test('users on two gateways chat in a room; a third in another room sees nothing of it', async () => {
  const ann = await user(A, 'ann', '/chat/lunch');
  await inRoom(ann, 'ann (you)');
  const bob = await user(B, 'bob', '/chat/lunch');
  await inRoom(bob, 'bob (you)');
  const cy = await user(B, 'cy', '/chat/other');
  await inRoom(cy, 'cy (you)');

  // Join notice and user list cross gateways.
  await ann.page.locator('#messages .notice', { hasText: 'bob has joined' }).waitFor(T);
  await inRoom(ann, 'bob');
  assert.deepEqual(await users(ann), ['ann (you)', 'bob']);
  assert.deepEqual(await users(bob), ['ann', 'bob (you)']);

  await send(ann.page, 'hello bob');
  await bob.page.locator('#messages .msg:not(.own) .text', { hasText: 'hello bob' }).waitFor(T);
  await ann.page.locator('#messages .msg.own .text', { hasText: 'hello bob' }).waitFor(T);
  await send(bob.page, 'hi ann');
  await ann.page.locator('#messages .msg:not(.own)', { hasText: 'hi ann' }).waitFor(T);

  // cy, on bob's gateway but in another room, saw none of it.
  await send(cy.page, 'anyone?');
  await cy.page.locator('#messages .msg.own', { hasText: 'anyone?' }).waitFor(T);
  assert.equal(await cy.page.locator('#messages', { hasText: 'hello bob' }).count(), 0);
  assert.equal(await cy.page.locator('#messages .msg').count(), 1);
  assert.equal(await cy.page.locator('#messages .notice').count(), 0);
  assert.equal(await ann.page.locator('#messages', { hasText: 'anyone?' }).count(), 0);

  // The nickname is unique across gateways: a second "ANN" on B gets a suffix.
  const ann2 = await user(B, 'ANN', '/chat/lunch');
  await inRoom(ann2, 'ANN-2 (you)');
  await inRoom(ann, 'ANN-2');
  await ann2.context.close();
  await ann.page.waitForFunction(() => document.querySelectorAll('#user-list button').length === 2, null, T);

  await screenshot(ann.page, 'chat-cluster-room-desktop');

  // Leaving on B: notice and list update on A.
  await bob.context.close();
  await ann.page.locator('#messages .notice', { hasText: 'bob has left' }).waitFor(T);
  await ann.page.waitForFunction(() => document.querySelectorAll('#user-list button').length === 1, null, T);
  noProblems(ann, cy);
});

test('a late joiner on the other gateway sees the history; private messages cross gateways to their target only', async () => {
  const dee = await user(A, 'dee', '/chat/history%20room');
  await inRoom(dee, 'dee (you)');
  for (const text of ['first', 'second', 'third']) {
    await send(dee.page, text);
    await dee.page.locator('#messages .msg.own .text', { hasText: text }).waitFor(T);
  }
  const eve = await user(B, 'eve', '/chat/history%20room', { viewport: { width: 375, height: 740 } });
  await inRoom(eve, 'eve (you)');
  await eve.page.locator('#messages .msg .text', { hasText: 'third' }).waitFor(T);
  assert.deepEqual(await eve.page.locator('#messages .msg .text').allTextContents(), ['first', 'second', 'third']);

  const fay = await user(A, 'fay', '/chat/history%20room');
  await inRoom(fay, 'fay (you)');
  await inRoom(dee, 'fay');
  await inRoom(eve, 'fay');

  // dee (A) clicks eve (B) in the list: private to eve only.
  await dee.page.locator('#user-list button', { hasText: 'eve' }).click();
  await dee.page.locator('#private-to', { hasText: 'eve' }).waitFor(T);
  await send(dee.page, 'psst eve');
  await eve.page.locator('#messages .msg.private', { hasText: 'psst eve' }).waitFor(T);
  await dee.page.locator('#messages .msg.private.own', { hasText: 'psst eve' }).waitFor(T);
  await dee.page.locator('#private-to').click();
  // eve (B) answers dee (A) with /msg.
  await send(eve.page, '/msg dee back to you');
  await dee.page.locator('#messages .msg.private', { hasText: 'back to you' }).waitFor(T);
  // A public message after both, so everything before it has arrived everywhere.
  await send(dee.page, 'public again');
  await eve.page.locator('#messages .msg', { hasText: 'public again' }).waitFor(T);
  await fay.page.locator('#messages .msg', { hasText: 'public again' }).waitFor(T);
  assert.equal(await fay.page.locator('#messages', { hasText: 'psst eve' }).count(), 0);
  assert.equal(await fay.page.locator('#messages', { hasText: 'back to you' }).count(), 0);
  assert.equal(await fay.page.locator('#messages .msg.private').count(), 0);

  await screenshot(eve.page, 'chat-cluster-room-phone');
  noProblems(dee, eve, fay);
});

test('HTML sent through one gateway is shown as text on the other', async () => {
  const gus = await user(A, 'gus', '/chat/xss');
  await inRoom(gus, 'gus (you)');
  const hal = await user(B, 'hal', '/chat/xss');
  await inRoom(hal, 'hal (you)');
  const payload = '<img src=x onerror=alert(1)><b>bold</b>';
  await send(gus.page, payload);
  const received = hal.page.locator('#messages .msg .text', { hasText: 'bold' });
  await received.waitFor(T);
  assert.equal(await received.textContent(), payload);
  assert.equal(await hal.page.locator('#messages b, #messages img').count(), 0);
  assert.deepEqual(hal.dialogs, []);
  // A late joiner gets it from the Redis history, still as text.
  const ivy = await user(A, 'ivy', '/chat/xss');
  const old = ivy.page.locator('#messages .msg .text', { hasText: 'bold' });
  await old.waitFor(T);
  assert.equal(await old.textContent(), payload);
  assert.equal(await ivy.page.locator('#messages b, #messages img').count(), 0);
  assert.deepEqual(ivy.dialogs, []);
  noProblems(gus, hal, ivy);
});

test('the rooms page counts the people of every gateway', async () => {
  const viewer = await user(A, 'viewer');
  const jon = await user(B, 'jon', '/chat/live%20counts');
  await inRoom(jon, 'jon (you)');
  const link = viewer.page.locator('#room-list a[data-room="live counts"]');
  await link.locator('.count', { hasText: '1 person' }).waitFor(T);
  const kim = await user(A, 'kim', '/chat/live%20counts');
  await inRoom(kim, 'kim (you)');
  await link.locator('.count', { hasText: '2 people' }).waitFor(T);
  // A viewer on the other gateway sees the same.
  const other = await user(B, 'other viewer');
  await other.page.locator('#room-list a[data-room="live counts"] .count', { hasText: '2 people' }).waitFor(T);
  await jon.context.close();
  await link.locator('.count', { hasText: '1 person' }).waitFor(T);
  await other.page.locator('#room-list a[data-room="live counts"] .count', { hasText: '1 person' }).waitFor(T);
  await screenshot(viewer.page, 'chat-cluster-rooms-desktop');
  noProblems(viewer, kim, other);
});

// Last: it kills gateway B.
test('when a gateway dies, its users leave the lists and the history stays', async () => {
  const lea = await user(A, 'lea', '/chat/survivors');
  await inRoom(lea, 'lea (you)');
  const max = await user(B, 'max', '/chat/survivors');
  await inRoom(max, 'max (you)');
  await send(max.page, 'before the crash');
  await lea.page.locator('#messages .msg .text', { hasText: 'before the crash' }).waitFor(T);
  await inRoom(lea, 'max');
  const viewer = await user(A, 'watcher');
  await viewer.page.locator('#room-list a[data-room="survivors"] .count', { hasText: '2 people' }).waitFor(T);

  await B.stop(); // SIGKILL: no goodbye reaches Redis.
  await lea.page.waitForFunction(
    () => [...document.querySelectorAll('#user-list button')].map((b) => b.textContent).join() === 'lea (you)',
    null,
    DEATH,
  );
  await viewer.page.locator('#room-list a[data-room="survivors"] .count', { hasText: '1 person' }).waitFor(DEATH);
  assert.equal(redisCli(cluster.redis, 'HLEN', 'sockeye:chat:room:survivors:members'), '1');

  // The history was in Redis: a newcomer still reads it.
  const ned = await user(A, 'ned', '/chat/survivors');
  await inRoom(ned, 'ned (you)');
  await ned.page.locator('#messages .msg .text', { hasText: 'before the crash' }).waitFor(T);
  noProblems(lea, ned);
});

// Last of all: it stops Redis.
test('while Redis is down the page tells the sender the chat is unavailable', async () => {
  const oz = await user(A, 'oz', '/chat/outage');
  await inRoom(oz, 'oz (you)');
  await cluster.redis.stop();
  await send(oz.page, 'is anyone there?');
  await oz.page.locator('#send-notice', { hasText: 'unavailable' }).waitFor(T);
  assert.equal(await oz.page.locator('#messages .msg', { hasText: 'is anyone there?' }).count(), 0);
  await screenshot(oz.page, 'chat-cluster-redis-down-desktop');
  noProblems(oz);
});
