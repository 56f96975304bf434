// Interop: headless Chromium's WebSocket against wsbroker's /echo.
//
// Loads tests/interop/browser/echo.html as a file:// page with
// ?ws=ws://HOST:PORT/echo, waits (20 s at most) for it to write PASS or
// FAIL into document.title, saves a screenshot into $WSB_TEST_OUT (default:
// a fresh temp dir) and fails unless PASS. Uses Debian's /usr/bin/chromium
// (override with $WSB_CHROMIUM); playwright-core never downloads a browser.
//
// Run (the launcher starts the broker and sets WSB_URL):
//   tests/interop/node/ensure-deps.sh
//   cd tests/interop/node && /usr/bin/python3 ../../lib/broker.py --broker PATH -- \
//       node --test --test-reporter=spec test_browser_echo.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { ECHO_URL, withTimeout } from './wsb.mjs';

const CHROMIUM = process.env.WSB_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
const RESULT_MS = 20000;
const PAGE = new URL('../browser/echo.html', import.meta.url);

async function outDir() {
  if (process.env.WSB_TEST_OUT) {
    await mkdir(process.env.WSB_TEST_OUT, { recursive: true });
    return process.env.WSB_TEST_OUT;
  }
  return mkdtemp(join(tmpdir(), 'wsb-browser-'));
}

test('headless Chromium echoes text and binary up to 1 MiB', { timeout: 90000 }, async () => {
  const browser = await withTimeout(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30000,
  }), 40000, `launch ${CHROMIUM}`);
  try {
    const page = await browser.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

    const url = `${pathToFileURL(PAGE.pathname).href}?ws=${encodeURIComponent(ECHO_URL)}`;
    await page.goto(url, { timeout: 10000 });
    let verdict;
    try {
      await page.waitForFunction(
        () => document.title === 'PASS' || document.title.startsWith('FAIL'),
        null, { timeout: RESULT_MS });
    } finally {
      verdict = await page.title();
      const dir = await outDir();
      const shot = join(dir, 'browser-echo.png');
      await page.screenshot({ path: shot, fullPage: true, timeout: 10000 });
      const log = await page.locator('#result').textContent({ timeout: 5000 });
      console.log(`browser: ${await browser.version()}, page ${url}`);
      console.log(`screenshot: ${shot}`);
      console.log(log);
      if (consoleLines.length) console.log(consoleLines.join('\n'));
    }
    assert.equal(verdict, 'PASS');
  } finally {
    await withTimeout(browser.close(), 15000, 'browser close').catch((e) => console.error(e.message));
  }
});
