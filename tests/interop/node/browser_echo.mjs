// The headless-Chromium echo check shared by the ws:// interop test and the
// wss:// TLS test: loads ../browser/echo.html with ?ws=URL, waits (20 s at
// most) for PASS or FAIL in document.title, saves a screenshot into
// $WSB_TEST_OUT (default: a fresh temp dir) and asserts PASS. Uses Debian's
// /usr/bin/chromium (override with $WSB_CHROMIUM); playwright-core never
// downloads a browser.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { withTimeout } from './wsb.mjs';

const CHROMIUM = process.env.WSB_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync'];
const RESULT_MS = 20000;
const PAGE = new URL('../browser/echo.html', import.meta.url);

async function outDir(tmpPrefix) {
  if (process.env.WSB_TEST_OUT) {
    await mkdir(process.env.WSB_TEST_OUT, { recursive: true });
    return process.env.WSB_TEST_OUT;
  }
  return mkdtemp(join(tmpdir(), tmpPrefix));
}

// echoUrl: ws(s)://HOST:PORT/echo; extraArgs: more Chromium flags;
// shotName: the screenshot's file name; tmpPrefix: for the default out dir.
export async function runBrowserEcho({ echoUrl, extraArgs = [], shotName, tmpPrefix }) {
  const browser = await withTimeout(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
    timeout: 30000,
  }), 40000, `launch ${CHROMIUM}`);
  try {
    const page = await browser.newPage();
    const consoleLines = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));

    const url = `${pathToFileURL(PAGE.pathname).href}?ws=${encodeURIComponent(echoUrl)}`;
    await page.goto(url, { timeout: 10000 });
    let verdict;
    try {
      await page.waitForFunction(
        () => document.title === 'PASS' || document.title.startsWith('FAIL'),
        null, { timeout: RESULT_MS });
    } finally {
      verdict = await page.title();
      const shot = join(await outDir(tmpPrefix), shotName);
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
}
