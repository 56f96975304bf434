// wss:// from headless Chromium's own WebSocket.
//
// Loads tests/interop/browser/echo.html as a file:// page with
// ?ws=wss://HOST:PORT/echo (text and binary up to 1 MiB, close 1000), waits
// (20 s at most) for PASS or FAIL in document.title, saves a screenshot into
// $WSB_TEST_OUT (default: a fresh temp dir) and fails unless PASS. Debian's
// /usr/bin/chromium ($WSB_CHROMIUM) through playwright-core; the dev CA is
// not in Chromium's store, so it runs with --ignore-certificate-errors (the
// certificate itself is checked by the Python and Node tests).
//
// Run (the launcher starts the broker with a TLS listener, WSB_URL=wss://...):
//   tests/interop/node/ensure-deps.sh
//   /usr/bin/python3 tests/lib/broker.py --tls --broker PATH -- \
//       node --test --test-reporter=spec tests/tls/test_browser_wss.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ECHO_URL, withTimeout } from '../interop/node/wsb.mjs';

const require = createRequire(new URL('../interop/node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

if (!ECHO_URL.startsWith('wss://')) throw new Error(`WSB_URL is not wss:// (${ECHO_URL}): run the launcher with --tls`);

const CHROMIUM = process.env.WSB_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--ignore-certificate-errors'];
const RESULT_MS = 20000;
const PAGE = new URL('../interop/browser/echo.html', import.meta.url);

async function outDir() {
  if (process.env.WSB_TEST_OUT) {
    await mkdir(process.env.WSB_TEST_OUT, { recursive: true });
    return process.env.WSB_TEST_OUT;
  }
  return mkdtemp(join(tmpdir(), 'wsb-browser-wss-'));
}

test('headless Chromium echoes text and binary up to 1 MiB over wss', { timeout: 90000 }, async () => {
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
      const shot = join(dir, 'browser-wss-echo.png');
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
