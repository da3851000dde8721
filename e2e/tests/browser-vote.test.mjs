// The "where to eat" vote in a real browser: live votes and tally, vote changes, late
// joiners, pictures with an initials fallback.
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

async function voter(name, area, { picture = '', viewport } = {}) {
  const o = await openPage(browser, viewport ? { viewport } : undefined);
  opened.push(o);
  await o.page.goto(`${gateway.url}/vote/${encodeURIComponent(area)}`);
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

test('voters see each other live, a new vote replaces the old one, late joiners see it all', async () => {
  const avatar = `${gateway.url}/vote/assets/avatar.svg`;
  const ann = await voter('Ann', 'Soho', { picture: avatar });
  const bob = await voter('Bob', 'Soho');

  await addAndVote(ann.page, 'Noodle bar');
  await bob.page.locator('#voter-list li', { hasText: 'Ann' }).locator('.choice', { hasText: 'Noodle bar' }).waitFor(T);
  // Ann's picture reaches Bob as an <img> with that URL; Bob has initials.
  const annImg = bob.page.locator('#voter-list li', { hasText: 'Ann' }).locator('img.avatar');
  await annImg.waitFor(T);
  assert.equal(await annImg.evaluate((img) => img.src), avatar);
  await ann.page.locator('#voter-list li', { hasText: 'Bob' }).locator('.avatar.initials', { hasText: 'B' }).waitFor(T);

  await addAndVote(bob.page, 'Taco stand');
  await bob.page.locator('#place-list button[data-place="Noodle bar"]').waitFor(T);
  await bob.page.locator('#place-list button[data-place="Noodle bar"]').click();
  await ann.page.locator('#tally li', { hasText: 'Noodle bar' }).locator('.tally-count', { hasText: '2' }).waitFor(T);
  assert.deepEqual(await tally(ann.page), [['Noodle bar', 2]]);

  // Ann changes her mind: her old vote is replaced, not added to.
  await ann.page.locator('#place-list button[data-place="Taco stand"]').click();
  await bob.page.locator('#voter-list li', { hasText: 'Ann' }).locator('.choice', { hasText: 'Taco stand' }).waitFor(T);
  await bob.page.waitForFunction(() => document.querySelectorAll('#tally li').length === 2, null, T);
  assert.deepEqual(await tally(bob.page), [['Noodle bar', 1], ['Taco stand', 1]]);

  // A late joiner (on a phone) sees the current votes and tally.
  const cy = await voter('Cy', 'Soho', { viewport: { width: 375, height: 740 } });
  await cy.page.locator('#voter-list li', { hasText: 'Ann' }).locator('.choice', { hasText: 'Taco stand' }).waitFor(T);
  await cy.page.locator('#voter-list li', { hasText: 'Bob' }).locator('.choice', { hasText: 'Noodle bar' }).waitFor(T);
  await cy.page.locator('#place-list button[data-place="Taco stand"]').click();
  await ann.page.locator('#tally li', { hasText: 'Taco stand' }).locator('.tally-count', { hasText: '2' }).waitFor(T);
  assert.deepEqual(await tally(ann.page), [['Taco stand', 2], ['Noodle bar', 1]]);

  // Another area sees none of it.
  const dee = await voter('Dee', 'Camden');
  assert.equal(await dee.page.locator('#voter-list li').count(), 1);
  assert.equal(await dee.page.locator('#tally li').count(), 0);

  await screenshot(ann.page, 'vote-area-desktop');
  await screenshot(cy.page, 'vote-area-phone');
  for (const o of [ann, bob, cy, dee]) assert.deepEqual(o.problems, [], 'no console or page errors');
});

test('the area picker lists live areas and validates names', async () => {
  for (const [name, viewport] of [['desktop', undefined], ['phone', { width: 375, height: 740 }]]) {
    const o = await openPage(browser, viewport ? { viewport } : undefined);
    opened.push(o);
    await o.page.goto(`${gateway.url}/vote`);
    await o.page.locator('#area-list a[data-area="Soho"]').waitFor(T);
    await o.page.locator('#area-input').fill('<bad>');
    await o.page.locator('#area-form button[type=submit]').click();
    await o.page.locator('#area-error', { hasText: 'letters' }).waitFor(T);
    await screenshot(o.page, `vote-areas-${name}`);
    await o.page.locator('#area-input').fill('Kings Cross');
    await o.page.locator('#area-form button[type=submit]').click();
    await o.page.locator('#profile-view').waitFor(T);
    assert.equal(new URL(o.page.url()).pathname, '/vote/Kings%20Cross');
    // A non-http picture is refused on the page.
    await o.page.locator('#name-input').fill('Eve');
    await o.page.locator('#picture-input').fill('javascript:alert(1)');
    await o.page.locator('#profile-form button[type=submit]').click();
    await o.page.locator('#profile-error', { hasText: 'http' }).waitFor(T);
    if (name === 'phone') await screenshot(o.page, 'vote-profile-phone');
    assert.deepEqual(o.problems, [], 'no console or page errors');
  }
});
