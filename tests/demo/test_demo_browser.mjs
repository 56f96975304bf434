// Headless Chromium loads the broker's own /demo page while tools/md-feed
// (path in $WSB_MD_FEED) feeds md.<SYMBOL> quotes. The page
// must show one row per symbol whose seq keeps increasing, a latency for
// each, and - after the test presses the page's "drop connection" button -
// the reconnect in its status (log line, reconnect counter) and rows that
// keep ticking with no gap and no seq out of order. Screenshots of both
// moments go to $WSB_TEST_OUT (ctest: the test's binary dir).
//
// Run (the launcher starts the broker and sets WSB_URL):
//   tests/interop/node/ensure-deps.sh
//   /usr/bin/python3 tests/lib/broker.py --broker build/release/broker/wsbroker -- \
//       node --test --test-reporter=spec tests/demo/test_demo_browser.mjs
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const requireInterop = createRequire(new URL('../interop/node/package.json', import.meta.url));
const { chromium } = requireInterop('playwright-core');

const BROKER_URL = process.env.WSB_URL;
if (!BROKER_URL) throw new Error('WSB_URL is not set: run through tests/lib/broker.py');
const HTTP_URL = BROKER_URL.replace(/^ws:/, 'http:');
const CHROMIUM = process.env.WSB_CHROMIUM || '/usr/bin/chromium';
const MD_FEED = process.env.WSB_MD_FEED;
if (!MD_FEED) throw new Error('WSB_MD_FEED (the md-feed binary) is not set');
const SYMBOLS = ['SYM000', 'SYM001', 'SYM002', 'SYM003']; // md-feed --symbols 4
const WAIT_MS = 20000;

async function outDir() {
  if (process.env.WSB_TEST_OUT) {
    await mkdir(process.env.WSB_TEST_OUT, { recursive: true });
    return process.env.WSB_TEST_OUT;
  }
  return mkdtemp(join(tmpdir(), 'wsb-demo-'));
}

let publisher;
let browser;
after(async () => {
  if (publisher && publisher.exitCode === null) publisher.kill('SIGTERM'); // the child we started
  if (browser) await browser.close().catch(() => {});
});

/** Every row's {sym: seq} as the page shows it. */
async function seqsOnPage(page) {
  return page.$$eval('#quotes tr', (trs) => Object.fromEntries(trs.map((tr) => [
    tr.querySelector('.sym').textContent, Number(tr.querySelector('.seq').textContent)])));
}

/** Waits until every symbol's seq on the page is above the one in `than`. */
async function waitForTicks(page, than, what) {
  await page.waitForFunction(([syms, prev]) => syms.every((s) => {
    const tr = document.getElementById(`row-${s}`);
    return tr && Number(tr.querySelector('.seq').textContent) > (prev[s] || 0);
  }), [SYMBOLS, than], { timeout: WAIT_MS, polling: 50 }).catch((e) => {
    throw new Error(`${what}: ${e.message}`);
  });
  return seqsOnPage(page);
}

test('the demo page ticks, shows seq and latency, and shows a reconnect', async () => {
  publisher = spawn(MD_FEED, ['--url', `${BROKER_URL}/v1`, '--symbols', String(SYMBOLS.length),
    '--rate', '200', '--duration', '90', '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30000,
  });
  const page = await browser.newPage({ viewport: { width: 1000, height: 480 } });
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
  const dir = await outDir();
  try {
    await page.goto(`${HTTP_URL}/demo`, { timeout: 10000 });
    await page.waitForFunction(() => document.getElementById('status').textContent === 'live',
      null, { timeout: WAIT_MS });

    // Rows appear and their seqs increase.
    const first = await waitForTicks(page, {}, 'every symbol shows a row');
    const second = await waitForTicks(page, first, 'every row ticks');
    const latency = await page.$$eval('#quotes .latency', (tds) => tds.map((td) => td.textContent));
    assert.equal(latency.length, SYMBOLS.length);
    for (const l of latency) assert.ok(Number.isFinite(Number(l)) && l !== '', `latency cell '${l}'`);
    const shotLive = join(dir, 'demo-live.png');
    await page.screenshot({ path: shotLive, fullPage: true });
    console.log(`screenshot: ${shotLive}`);

    // Drop the connection from the page; the client reconnects and resumes.
    await page.click('#drop');
    await page.waitForFunction(() => document.getElementById('reconnects').textContent === '1' &&
      document.getElementById('status').textContent === 'live', null, { timeout: WAIT_MS });
    const log = await page.textContent('#log');
    assert.match(log, /reconnecting \(try 1\)/, 'the reconnect shows in the page log');
    await waitForTicks(page, second, 'rows tick after the reconnect');
    const shotReconnected = join(dir, 'demo-reconnected.png');
    await page.screenshot({ path: shotReconnected, fullPage: true });
    console.log(`screenshot: ${shotReconnected}`);

    const stats = await page.evaluate(() => ({ ...window.wsbDemo.stats }));
    console.log(`page stats: ${JSON.stringify(stats)}`);
    assert.equal(stats.disorder, 0, 'a seq that did not increase reached the page');
    assert.equal(stats.gaps, 0, 'gap notices');
    assert.equal(stats.reconnects, 1);
    assert.equal(await page.textContent('#gaps'), '0');
  } finally {
    if (consoleLines.length) console.log(consoleLines.join('\n'));
  }
});
