// Browser tests: start the real `sockeye` gateway binary and drive Debian's Chromium
// with playwright-core. Build the binary first: `cargo build --release -p sockeye-server`.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, repoRoot } from './servers.mjs';
import { startRedis } from './redis.mjs';

export const artifactsDir = path.join(repoRoot, 'e2e/artifacts');

async function waitForHttp(url, child, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sockeye exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.status < 500) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sockeye did not answer on ${url} within ${timeoutMs} ms`);
}

/** Starts `sockeye --listen 127.0.0.1:<free port> ...args`. Returns { url, stop(), stderr() }. */
export async function startGateway(args = []) {
  const port = await freePort();
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
  const bin = path.join(target, 'release/sockeye');
  if (!fs.existsSync(bin)) throw new Error(`${bin} is missing: run cargo build --release -p sockeye-server`);
  let stderr = '';
  const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' },
  });
  child.stdout.on('data', () => {});
  child.stderr.on('data', (d) => {
    stderr += d;
    if (process.env.SOCKEYE_E2E_VERBOSE) process.stderr.write(d);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/chat`, child);
  return {
    url,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A cluster: a redis-server of the test's own and `count` gateways joined to it with
 * `--redis` (plus `args`). Returns { redis, nodes: [gateway], stop() }.
 */
export async function startCluster(count, args = []) {
  const redis = await startRedis();
  const nodes = [];
  try {
    for (let i = 0; i < count; i += 1) nodes.push(await startGateway(['--redis', redis.url, ...args]));
  } catch (e) {
    for (const n of nodes) await n.stop();
    await redis.stop();
    throw e;
  }
  return {
    redis,
    nodes,
    stop: async () => {
      for (const n of nodes) await n.stop();
      await redis.stop();
    },
  };
}

/** Runs `redis-cli` against the test's redis-server; returns its trimmed output. */
export function redisCli(redis, ...args) {
  return execFileSync('/usr/bin/redis-cli', ['-h', '127.0.0.1', '-p', String(redis.port), ...args], { encoding: 'utf8' }).trim();
}

/**
 * The `connect.sid` cookie value express-session would give the browser for session
 * `id`: `s:<id>.<unpadded base64 HMAC-SHA256 of id>`, URI-encoded.
 */
export function expressSessionCookie(id, secret) {
  const signature = crypto.createHmac('sha256', secret).update(id).digest('base64').replace(/=+$/, '');
  return encodeURIComponent(`s:${id}.${signature}`);
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new browser context + page that records console errors, page errors and dialogs
 * (an XSS would open one). `viewport` defaults to a desktop size; `cookies` are set
 * in the context first (playwright's `addCookies` format).
 */
export async function openPage(browser, { viewport = { width: 1280, height: 800 }, cookies = [] } = {}) {
  const context = await browser.newContext({ viewport });
  if (cookies.length) await context.addCookies(cookies);
  const page = await context.newPage();
  const problems = [];
  const dialogs = [];
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss().catch(() => {}); });
  return { context, page, problems, dialogs };
}

/** Saves a full-page screenshot to e2e/artifacts/<name>.png; returns the path. */
export async function screenshot(page, name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
