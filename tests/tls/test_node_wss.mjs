// wss:// from Node's `ws` client (npm), trusting the dev CA through `ca`.
//
// Text and binary messages at every frame-length boundary up to 1 MiB come
// back byte for byte with the same type; the TLS session is TLS 1.3 with
// ALPN http/1.1 when offered; without the CA the certificate is refused.
//
// Run (the launcher starts the broker with a TLS listener and a dev CA, and
// sets WSB_URL=wss://HOST:PORT and WSB_CA=the CA file):
//   tests/interop/node/ensure-deps.sh
//   /usr/bin/python3 tests/lib/broker.py --tls --broker PATH -- \
//       node --test --test-reporter=spec tests/tls/test_node_wss.mjs
//
// The npm packages are tests/interop/node's (one node_modules for both).

import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ECHO_URL, SIZES, bytesOfSize, textOfSize, withTimeout } from '../interop/node/wsb.mjs';

const require = createRequire(new URL('../interop/node/package.json', import.meta.url));
const WebSocket = require('ws');

if (!ECHO_URL.startsWith('wss://')) throw new Error(`WSB_URL is not wss:// (${ECHO_URL}): run the launcher with --tls`);
if (!process.env.WSB_CA) throw new Error('WSB_CA is not set: run the launcher with --tls');
const CA = readFileSync(process.env.WSB_CA);
const OPEN_MS = 10000;
const MSG_MS = 30000;

const sockets = new Set();
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

/** An open wss client and a queue of what it received. */
async function open(options = {}) {
  const ws = new WebSocket(ECHO_URL, { ca: CA, perMessageDeflate: false, maxPayload: 32 << 20, ...options });
  sockets.add(ws);
  const queue = [];
  const waiters = [];
  ws.on('message', (data, isBinary) => {
    const m = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary };
    const w = waiters.shift();
    if (w) w(m); else queue.push(m);
  });
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  }), OPEN_MS, `open ${ECHO_URL}`);
  const next = (what) => (queue.length ? Promise.resolve(queue.shift())
    : withTimeout(new Promise((resolve) => waiters.push(resolve)), MSG_MS, what));
  return { ws, next, closed };
}

async function assertEcho(c, data, binary) {
  const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
  const name = `${binary ? 'binary' : 'text'} ${bytes.length} B`;
  await withTimeout(new Promise((resolve, reject) => c.ws.send(data, { binary }, (e) => (e ? reject(e) : resolve()))),
    MSG_MS, `send ${name}`);
  const got = await c.next(`echo of ${name}`);
  assert.equal(got.isBinary, binary, `${name}: came back as ${got.isBinary ? 'binary' : 'text'}`);
  assert.ok(got.data.equals(bytes), `${name}: came back as ${got.data.length} B with different content`);
}

async function closeWith(c, code) {
  c.ws.close(code);
  return withTimeout(c.closed, MSG_MS, `close ${code}`);
}

test('text messages of every boundary size echo back over wss', { timeout: 120000 }, async () => {
  const c = await open();
  for (const n of SIZES) await assertEcho(c, textOfSize(n), false);
  assert.equal(await closeWith(c, 1000), 1000);
});

test('binary messages of every boundary size echo back over wss', { timeout: 120000 }, async () => {
  const c = await open();
  for (const n of SIZES) await assertEcho(c, bytesOfSize(n), true);
  assert.equal(await closeWith(c, 4000), 4000);
});

test('TLS 1.3 with ALPN http/1.1 when offered', { timeout: 30000 }, async () => {
  const c = await open({ ALPNProtocols: ['http/1.1'] });
  const sock = c.ws._socket;
  assert.equal(sock.getProtocol(), 'TLSv1.3');
  assert.equal(sock.alpnProtocol, 'http/1.1');
  assert.equal(sock.authorized, true);
  await assertEcho(c, 'alpn', false);
  await closeWith(c, 1000);
});

test('TLS 1.2 when the client caps it', { timeout: 30000 }, async () => {
  const c = await open({ maxVersion: 'TLSv1.2' });
  assert.equal(c.ws._socket.getProtocol(), 'TLSv1.2');
  await assertEcho(c, bytesOfSize(70000, 5), true);
  await closeWith(c, 1000);
});

test('without the dev CA the certificate is not trusted', { timeout: 30000 }, async () => {
  const ws = new WebSocket(ECHO_URL, { perMessageDeflate: false });
  sockets.add(ws);
  const err = await withTimeout(new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('opened without trusting the CA')));
    ws.once('error', resolve);
  }), OPEN_MS, 'the certificate error');
  assert.match(String(err.code || err.message), /CERT|SELF_SIGNED|ISSUER|VERIFY/i);
});
