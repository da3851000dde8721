// The chat app in a real browser: rooms, presence, history, private messages, safe
// rendering and the live rooms list.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, launchBrowser, openPage, screenshot } from './lib/browser.mjs';

const T = { timeout: 10000 };
let gateway;
let browser;
const opened = [];

before(async () => {
  gateway = await startGateway();
  browser = await launchBrowser();
});

after(async () => {
  for (const o of opened) await o.context.close().catch(() => {});
  await browser?.close();
  await gateway?.stop();
});

async function user(nick, path, options) {
  const o = await openPage(browser, options);
  opened.push(o);
  await o.page.goto(`${gateway.url}/chat`);
  await o.page.locator('#nick-input').fill(nick);
  await o.page.locator('#nick-form button[type=submit]').click();
  await o.page.locator('#rooms-view').waitFor(T);
  if (path) await o.page.goto(`${gateway.url}${path}`);
  return o;
}

async function inRoom(o, nick) {
  await o.page.locator('#user-list button', { hasText: nick }).first().waitFor(T);
}

async function send(page, text) {
  await page.locator('#message-input').fill(text);
  await page.locator('#send-form button[type=submit]').click();
}

function noProblems(...users) {
  for (const u of users) assert.deepEqual(u.problems, [], 'no console or page errors');
}

test('two users chat in a room; a third in another room sees nothing of it', async () => {
  const ann = await user('ann', '/chat/lunch');
  await inRoom(ann, 'ann (you)');
  const bob = await user('bob', '/chat/lunch');
  await inRoom(bob, 'bob (you)');
  const cy = await user('cy', '/chat/other');
  await inRoom(cy, 'cy (you)');

  // Join notice and user list on ann's side.
  await ann.page.locator('#messages .notice', { hasText: 'bob has joined' }).waitFor(T);
  await inRoom(ann, 'bob');
  assert.deepEqual(await ann.page.locator('#user-list button').allTextContents(), ['ann (you)', 'bob']);

  await send(ann.page, 'hello bob');
  await bob.page.locator('#messages .msg:not(.own) .text', { hasText: 'hello bob' }).waitFor(T);
  await ann.page.locator('#messages .msg.own .text', { hasText: 'hello bob' }).waitFor(T);
  await send(bob.page, 'hi ann');
  await ann.page.locator('#messages .msg:not(.own)', { hasText: 'hi ann' }).waitFor(T);
  assert.equal(await ann.page.locator('#messages .msg.own').count(), 1, "ann's own message is styled apart");

  // cy, in another room, sent a message and saw neither theirs nor the join notice.
  await send(cy.page, 'anyone?');
  await cy.page.locator('#messages .msg.own', { hasText: 'anyone?' }).waitFor(T);
  assert.equal(await cy.page.locator('#messages', { hasText: 'hello bob' }).count(), 0);
  assert.equal(await cy.page.locator('#messages .msg').count(), 1);
  assert.equal(await ann.page.locator('#messages', { hasText: 'anyone?' }).count(), 0);

  await screenshot(ann.page, 'chat-room-desktop');

  // Leaving: notice and list update.
  await bob.context.close();
  await ann.page.locator('#messages .notice', { hasText: 'bob has left' }).waitFor(T);
  await ann.page.waitForFunction(() => document.querySelectorAll('#user-list button').length === 1, null, T);
  noProblems(ann, cy);
});

test('a late joiner sees the history; private messages reach only their target', async () => {
  const dee = await user('dee', '/chat/history%20room');
  await inRoom(dee, 'dee (you)');
  for (const text of ['first', 'second', 'third']) {
    await send(dee.page, text);
    await dee.page.locator('#messages .msg.own .text', { hasText: text }).waitFor(T);
  }
  const eve = await user('eve', '/chat/history%20room', { viewport: { width: 375, height: 740 } });
  await inRoom(eve, 'eve (you)');
  await eve.page.locator('#messages .msg .text', { hasText: 'third' }).waitFor(T);
  assert.deepEqual(await eve.page.locator('#messages .msg .text').allTextContents(), ['first', 'second', 'third']);

  const fay = await user('fay', '/chat/history%20room');
  await inRoom(fay, 'fay (you)');
  await inRoom(dee, 'fay');

  // Click a user in the list, then send: private to eve.
  await dee.page.locator('#user-list button', { hasText: 'eve' }).click();
  await dee.page.locator('#private-to', { hasText: 'eve' }).waitFor(T);
  await send(dee.page, 'psst eve');
  await eve.page.locator('#messages .msg.private', { hasText: 'psst eve' }).waitFor(T);
  await dee.page.locator('#messages .msg.private.own', { hasText: 'psst eve' }).waitFor(T);
  // With /msg: private to fay.
  await dee.page.locator('#private-to').click();
  await send(dee.page, '/msg fay only for fay');
  await fay.page.locator('#messages .msg.private', { hasText: 'only for fay' }).waitFor(T);
  // A public message after both, so we know everything before it has arrived.
  await send(dee.page, 'public again');
  await eve.page.locator('#messages .msg', { hasText: 'public again' }).waitFor(T);
  await fay.page.locator('#messages .msg', { hasText: 'public again' }).waitFor(T);
  assert.equal(await fay.page.locator('#messages', { hasText: 'psst eve' }).count(), 0);
  assert.equal(await eve.page.locator('#messages', { hasText: 'only for fay' }).count(), 0);

  await screenshot(eve.page, 'chat-room-phone');
  noProblems(dee, eve, fay);
});

test('HTML in a message is shown as text, and long messages are refused', async () => {
  const gus = await user('gus', '/chat/xss');
  await inRoom(gus, 'gus (you)');
  const hal = await user('hal', '/chat/xss');
  await inRoom(hal, 'hal (you)');
  const payload = '<img src=x onerror=alert(1)><b>bold</b>';
  await send(gus.page, payload);
  const received = hal.page.locator('#messages .msg .text', { hasText: 'bold' });
  await received.waitFor(T);
  assert.equal(await received.textContent(), payload);
  assert.equal(await hal.page.locator('#messages b, #messages img').count(), 0);
  assert.equal(await gus.page.locator('#messages b, #messages img').count(), 0);
  assert.deepEqual(hal.dialogs, []);
  assert.deepEqual(gus.dialogs, []);

  // The page caps input at 500; a client bypassing it gets an error from the server.
  const ack = await gus.page.evaluate(() => new Promise((resolve) => {
    // eslint-disable-next-line no-undef
    const s = io('/chat', { forceNew: true });
    s.emit('join', { room: 'xss', nick: 'raw' }, () => s.emit('message', 'x'.repeat(501), (res) => { s.close(); resolve(res); }));
  }));
  assert.equal(ack.ok, false);
  assert.equal(ack.code, 'too_long');
  noProblems(gus, hal);
});

test('the rooms page lists rooms with live counts', async () => {
  const ivy = await user('ivy');
  await screenshot(ivy.page, 'chat-nick-or-rooms-desktop');
  const jon = await user('jon', '/chat/live%20counts');
  await inRoom(jon, 'jon (you)');
  const link = ivy.page.locator('#room-list a[data-room="live counts"]');
  await link.locator('.count', { hasText: '1 person' }).waitFor(T);
  const kim = await user('kim', '/chat/live%20counts');
  await inRoom(kim, 'kim (you)');
  await link.locator('.count', { hasText: '2 people' }).waitFor(T);
  await kim.context.close();
  await link.locator('.count', { hasText: '1 person' }).waitFor(T);
  await screenshot(ivy.page, 'chat-rooms-desktop');

  // Phone: the nickname form, then the rooms list.
  const phone = await openPage(browser, { viewport: { width: 375, height: 740 } });
  opened.push(phone);
  await phone.page.goto(`${gateway.url}/chat`);
  await phone.page.locator('#nick-view').waitFor(T);
  await screenshot(phone.page, 'chat-nick-phone');
  await phone.page.locator('#nick-input').fill('lea');
  await phone.page.locator('#nick-form button[type=submit]').click();
  await phone.page.locator('#room-list a[data-room="live counts"]').waitFor(T);
  await screenshot(phone.page, 'chat-rooms-phone');

  // Starting a new room from the form opens it.
  await phone.page.locator('#new-room').fill('fresh room');
  await phone.page.locator('#new-room-form button[type=submit]').click();
  await inRoom(phone, 'lea (you)');
  assert.equal(new URL(phone.page.url()).pathname, '/chat/fresh%20room');
  noProblems(ivy, jon, phone);
});

test('the server rate-limits a sender and the page says so', async () => {
  const max = await user('max', '/chat/spam');
  await inRoom(max, 'max (you)');
  // The bucket holds 5 messages and refills one per second. Each message waits for the
  // server's answer (the input empties, or a notice appears) before the next one, so a
  // later success cannot clear the notice of an earlier refusal; as long as a round trip
  // takes well under the one-second refill, the tokens run out within a few messages.
  const notice = max.page.locator('#send-notice');
  let limited = false;
  for (let i = 0; i < 40 && !limited; i += 1) {
    await send(max.page, `spam ${i}`);
    await max.page.waitForFunction(
      () => document.getElementById('message-input').value === '' || document.getElementById('send-notice').textContent !== '',
      null,
      T,
    );
    limited = (await notice.textContent()).includes('too fast');
  }
  assert.ok(limited, 'the page says the sender is sending too fast');
  noProblems(max);
});
