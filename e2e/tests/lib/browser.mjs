// Browser tests: start the real `sockeye` gateway binary and drive Debian's Chromium
// with playwright-core. Build the binary first: `cargo build --release -p sockeye-server`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort, repoRoot } from './servers.mjs';

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

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new browser context + page that records console errors, page errors and dialogs
 * (an XSS would open one). `viewport` defaults to a desktop size.
 */
export async function openPage(browser, { viewport = { width: 1280, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport });
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
