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
import { runBrowserEcho } from '../interop/node/browser_echo.mjs';
import { ECHO_URL } from '../interop/node/wsb.mjs';

if (!ECHO_URL.startsWith('wss://')) throw new Error(`WSB_URL is not wss:// (${ECHO_URL}): run the launcher with --tls`);

test('headless Chromium echoes text and binary up to 1 MiB over wss', { timeout: 90000 }, () =>
  runBrowserEcho({ echoUrl: ECHO_URL, extraArgs: ['--ignore-certificate-errors'],
    shotName: 'browser-wss-echo.png', tmpPrefix: 'wsb-browser-wss-' }));
