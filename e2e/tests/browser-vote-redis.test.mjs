// The "where to eat" vote in a real browser, served by TWO gateways joined by one
// redis-server (`--redis`): voters on different gateways see each other's votes and
// the tally live, a broken picture falls back to initials, and the votes outlive a
// gateway that dies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, launchBrowser, openPage, screenshot, redisCli } from './lib/browser.mjs';

const T = { timeout: 15000 };
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

async function voter(node, name, area, { picture = '', viewport } = {}) {
  const o = await openPage(browser, viewport ? { viewport } : undefined);
  opened.push(o);
  await o.page.goto(`${node.url}/vote/${encodeURIComponent(area)}`);
  await o.page.locator('#name-input').fill(name);
  await o.page.locator('#picture-input').fill(picture);
  await o.page.locator('#profile-form button[type=submit]').click();
  await o.page.locator('#voter-list li', { hasText: `${name} (you)` }).waitFor(T);
  return o;
}

async function tally(page) {
  return page.locator('#tally li').evaluateAll((lis) => lis.map((li) => [
    li.querySelector('.tally-place').textContent, Number(li.querySelector('.tally-count').textContent)]));
}

async function addAndVote(page, place) {
  await page.locator('#place-input').fill(place);
  await page.locator('#place-form button[type=submit]').click();
}

function choice(o, name, place) {
  return o.page.locator('#voter-list li', { hasText: name }).locator('.choice', { hasText: place });
}

test('voters on two gateways see each other live; a broken picture shows initials', async () => {
  const broken = `${A.url}/vote/assets/no-such-picture.png`;
  const avatar = `${B.url}/vote/assets/avatar.svg`;
  const ann = await voter(A, 'Ann Lee', 'Soho', { picture: broken });
  const bob = await voter(B, 'Bob', 'Soho', { picture: avatar });

  // Each sees the other, who joined through the other gateway.
  await ann.page.locator('#voter-list li', { hasText: 'Bob' }).waitFor(T);
  await bob.page.locator('#voter-list li', { hasText: 'Ann Lee' }).waitFor(T);
  // Ann's picture does not load: everyone sees her initials instead; Bob's loads.
  await bob.page.locator('#voter-list li', { hasText: 'Ann Lee' }).locator('.avatar.initials', { hasText: 'AL' }).waitFor(T);
  await ann.page.locator('#voter-list li', { hasText: 'Ann Lee (you)' }).locator('.avatar.initials', { hasText: 'AL' }).waitFor(T);
  assert.equal(await bob.page.locator('#voter-list li', { hasText: 'Ann Lee' }).locator('img').count(), 0);
  const bobImg = ann.page.locator('#voter-list li', { hasText: 'Bob' }).locator('img.avatar');
  await bobImg.waitFor(T);
  assert.equal(await bobImg.evaluate((img) => img.src), avatar);
  assert.equal(await bobImg.evaluate((img) => img.complete && img.naturalWidth > 0), true, "Bob's picture loaded");

  await addAndVote(ann.page, 'Noodle bar');
  await choice(bob, 'Ann Lee', 'Noodle bar').waitFor(T);
  await addAndVote(bob.page, 'Taco stand');
  await choice(ann, 'Bob', 'Taco stand').waitFor(T);
  await bob.page.locator('#place-list button[data-place="Noodle bar"]').click();
  await ann.page.locator('#tally li', { hasText: 'Noodle bar' }).locator('.tally-count', { hasText: '2' }).waitFor(T);
  await ann.page.waitForFunction(() => document.querySelectorAll('#tally li').length === 1, null, T);
  assert.deepEqual(await tally(ann.page), [['Noodle bar', 2]]);

  // Ann changes her mind on A: B sees the old vote replaced, not added to.
  await ann.page.locator('#place-list button[data-place="Taco stand"]').click();
  await choice(bob, 'Ann Lee', 'Taco stand').waitFor(T);
  await bob.page.waitForFunction(() => document.querySelectorAll('#tally li').length === 2, null, T);
  assert.deepEqual(await tally(bob.page), [['Noodle bar', 1], ['Taco stand', 1]]);

  // A late joiner on A sees every current vote.
  const cy = await voter(A, 'Cy', 'Soho', { viewport: { width: 375, height: 740 } });
  await choice(cy, 'Ann Lee', 'Taco stand').waitFor(T);
  await choice(cy, 'Bob', 'Noodle bar').waitFor(T);
  assert.deepEqual(await tally(cy.page), [['Noodle bar', 1], ['Taco stand', 1]]);

  // The area lives two hours after its last change.
  const ttl = Number(redisCli(cluster.redis, 'TTL', 'sockeye:vote:area:Soho'));
  assert.ok(ttl > 7000 && ttl <= 7200, `TTL ${ttl}`);

  await screenshot(bob.page, 'vote-cluster-desktop');
  await screenshot(cy.page, 'vote-cluster-phone');
  // Every page logged the failed load of Ann's picture (a 404), and nothing else.
  for (const o of [ann, bob, cy]) {
    assert.deepEqual(o.problems.filter((p) => !p.includes('404 (Not Found)')), [], 'no other console or page errors');
  }
});

// Last: it kills gateway B.
test('the votes outlive the gateway they were cast on', async () => {
  const dee = await voter(B, 'Dee', 'Camden');
  await addAndVote(dee.page, 'Fish and chips');
  await dee.page.locator('#tally li', { hasText: 'Fish and chips' }).waitFor(T);
  await B.stop(); // SIGKILL
  const eve = await voter(A, 'Eve', 'Camden');
  await choice(eve, 'Dee', 'Fish and chips').waitFor(T);
  assert.deepEqual(await tally(eve.page), [['Fish and chips', 1]]);
  const areas = await openPage(browser);
  opened.push(areas);
  await areas.page.goto(`${A.url}/vote`);
  await areas.page.locator('#area-list a[data-area="Camden"] .count', { hasText: '2' }).waitFor(T);
  assert.deepEqual(eve.problems, []);
});
