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
import { runBrowserEcho } from './browser_echo.mjs';
import { ECHO_URL } from './wsb.mjs';

test('headless Chromium echoes text and binary up to 1 MiB', { timeout: 90000 }, () =>
  runBrowserEcho({ echoUrl: ECHO_URL, shotName: 'browser-echo.png', tmpPrefix: 'wsb-browser-' }));
