// Interop: Node's `ws` client (npm) against wsbroker's /echo.
//
// Every message must come back byte for byte with the same type (text or
// binary), fragmented sends as one message, pings with a pong carrying the
// same payload, closes with the client's code.
//
// Run (the launcher starts the broker and sets WSB_URL):
//   tests/interop/node/ensure-deps.sh
//   cd tests/interop/node && /usr/bin/python3 ../../lib/broker.py --broker PATH -- \
//       node --test --test-reporter=spec test_node_echo.mjs

import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { BROKER_URL, ECHO_URL, SIZES, bytesOfSize, textOfSize, withTimeout } from './wsb.mjs';

const OPEN_MS = 10000;
const MSG_MS = 30000;

// Every socket a test opens; a failed test leaves its sockets open, and an
// open socket would keep this process alive, so each test ends by dropping
// whatever is left.
const sockets = new Set();
function track(ws) {
  sockets.add(ws);
  ws.once('close', () => sockets.delete(ws));
  return ws;
}
afterEach(() => {
  for (const ws of sockets) ws.terminate();
  sockets.clear();
});

/**
 * An open client plus a queue of what it received, so a test can await the
 * next message without racing the 'message' event.
 */
class Client {
  static async open(url = ECHO_URL, options = {}) {
    const ws = track(new WebSocket(url, { perMessageDeflate: false, maxPayload: 32 * 1024 * 1024, ...options }));
    const c = new Client(ws);
    await withTimeout(new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    }), OPEN_MS, `open ${url}`);
    return c;
  }

  constructor(ws) {
    this.ws = ws;
    this.queue = [];
    this.waiters = [];
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data, isBinary) => {
      const m = { data: Buffer.isBuffer(data) ? data : Buffer.concat(data), isBinary };
      const w = this.waiters.shift();
      if (w) w(m); else this.queue.push(m);
    });
    ws.on('error', (e) => { this.error = e; });
  }

  next(what = 'a message') {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return withTimeout(new Promise((resolve) => this.waiters.push(resolve)), MSG_MS, `receive ${what}`);
  }

  send(data, opts = {}) {
    return new Promise((resolve, reject) => {
      this.ws.send(data, opts, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Send a message, expect it back whole with the same type. */
  async assertEcho(data, { binary = Buffer.isBuffer(data), label } = {}) {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    const name = label ?? `${binary ? 'binary' : 'text'} ${bytes.length} B`;
    await withTimeout(this.send(data, { binary }), MSG_MS, `send ${name}`);
    const got = await this.next(`echo of ${name}`);
    assert.equal(got.isBinary, binary, `${name}: came back as ${got.isBinary ? 'binary' : 'text'}`);
    assert.equal(got.data.length, bytes.length, `${name}: came back with ${got.data.length} B`);
    assert.ok(got.data.equals(bytes), `${name}: came back with different content`);
  }

  async closeWith(code, reason) {
    this.ws.close(code, reason);
    return withTimeout(this.closed, MSG_MS, `close handshake for ${code}`);
  }
}

test('text messages of every boundary size echo back as text', { timeout: 120000 }, async () => {
  const c = await Client.open();
  for (const n of SIZES) await c.assertEcho(textOfSize(n), { binary: false });
  assert.equal((await c.closeWith(1000)).code, 1000);
});

test('binary messages of every boundary size echo back as binary', { timeout: 120000 }, async () => {
  const c = await Client.open();
  for (const n of SIZES) await c.assertEcho(bytesOfSize(n));
  assert.equal((await c.closeWith(1000)).code, 1000);
});

test('text and binary interleaved keep their order and type', { timeout: 60000 }, async () => {
  const c = await Client.open();
  const msgs = [];
  for (const n of [0, 3, 126, 70000]) {
    msgs.push({ data: textOfSize(n), binary: false });
    msgs.push({ data: bytesOfSize(n, n + 1), binary: true });
  }
  await Promise.all(msgs.map((m) => c.send(m.data, { binary: m.binary })));
  for (const [i, m] of msgs.entries()) {
    const got = await c.next(`message #${i}`);
    const want = Buffer.isBuffer(m.data) ? m.data : Buffer.from(m.data);
    assert.equal(got.isBinary, m.binary, `message #${i}: type`);
    assert.ok(got.data.equals(want), `message #${i}: content (${got.data.length} B vs ${want.length} B)`);
  }
  await c.closeWith(1000);
});

test('fragmented text (fin:false parts) echoes as one message', { timeout: 60000 }, async () => {
  const c = await Client.open();
  const parts = ['frag', '', 'mented ', 'é€😀', ' text'];
  for (const [i, p] of parts.entries()) {
    await c.send(p, { binary: false, fin: i === parts.length - 1 });
  }
  const got = await c.next('the reassembled text');
  assert.equal(got.isBinary, false);
  assert.equal(got.data.toString('utf8'), parts.join(''));
  await c.assertEcho('after the fragmented one', { binary: false });
  await c.closeWith(1000);
});

test('fragmented text with a code point split across frames', { timeout: 60000 }, async () => {
  // RFC 6455 checks UTF-8 over the whole message; a 4-byte sequence may span
  // fragments. Send raw bytes as text fragments cut inside the code points.
  const whole = Buffer.from('a😀b𝄞c€', 'utf8');
  const cuts = [0, 2, 3, 4, 8, whole.length];
  const c = await Client.open();
  for (let i = 0; i + 1 < cuts.length; i++) {
    await c.send(whole.subarray(cuts[i], cuts[i + 1]), { binary: false, fin: i + 2 === cuts.length });
  }
  const got = await c.next('the reassembled text');
  assert.equal(got.isBinary, false);
  assert.ok(got.data.equals(whole), `got ${got.data.toString('hex')}`);
  await c.closeWith(1000);
});

test('fragmented binary (1 MiB in uneven parts) echoes as one message', { timeout: 60000 }, async () => {
  const data = bytesOfSize(1024 * 1024 + 3, 99);
  const cuts = [0, 1, 126, 65536, 65537, 500000, 1024 * 1024, data.length];
  const c = await Client.open();
  for (let i = 0; i + 1 < cuts.length; i++) {
    await c.send(data.subarray(cuts[i], cuts[i + 1]), { binary: true, fin: i + 2 === cuts.length });
  }
  const got = await c.next('the reassembled binary');
  assert.equal(got.isBinary, true);
  assert.equal(got.data.length, data.length);
  assert.ok(got.data.equals(data), 'reassembled content differs');
  await c.closeWith(1000);
});

test('ping gets a pong with the same payload', { timeout: 60000 }, async () => {
  const c = await Client.open();
  for (const payload of [Buffer.from('ping-1'), Buffer.alloc(0), Buffer.alloc(125, 0xab)]) {
    const pong = withTimeout(new Promise((resolve) => c.ws.once('pong', resolve)), 10000,
      `pong for a ${payload.length} B ping`);
    c.ws.ping(payload);
    const got = await pong;
    assert.ok(got.equals(payload), `pong payload ${got.toString('hex')} != ${payload.toString('hex')}`);
  }
  // A ping between the fragments of a message is answered, and the message
  // still arrives whole.
  const pong = withTimeout(new Promise((resolve) => c.ws.once('pong', resolve)), 10000, 'mid-message pong');
  await c.send('first half, ', { binary: false, fin: false });
  c.ws.ping(Buffer.from('mid'));
  await c.send('second half', { binary: false, fin: true });
  assert.equal((await pong).toString(), 'mid');
  const got = await c.next('message around the ping');
  assert.equal(got.data.toString(), 'first half, second half');
  await c.closeWith(1000);
});

test('close code 1000 with a reason is echoed', { timeout: 30000 }, async () => {
  const c = await Client.open();
  await c.assertEcho('hello', { binary: false });
  const { code } = await c.closeWith(1000, 'client is done');
  assert.equal(code, 1000);
});

test('application close code 4000 is echoed', { timeout: 30000 }, async () => {
  const c = await Client.open();
  const { code } = await c.closeWith(4000, 'app');
  assert.equal(code, 4000);
});

test('close with no code gets an empty close (1005 seen locally)', { timeout: 30000 }, async () => {
  const c = await Client.open();
  const { code } = await c.closeWith();
  assert.equal(code, 1005);
});

test('client offering permessage-deflate still gets intact echoes', { timeout: 60000 }, async () => {
  const c = await Client.open(ECHO_URL, { perMessageDeflate: true });
  for (const n of [0, 126, 65536]) {
    await c.assertEcho(textOfSize(n), { binary: false });
    await c.assertEcho(bytesOfSize(n));
  }
  await c.closeWith(1000);
});

test('10 connections x 50 messages at once stay separate', { timeout: 120000 }, async () => {
  const one = async (k) => {
    const c = await Client.open();
    const msgs = [];
    for (let i = 0; i < 50; i++) {
      const tag = `c${k}m${i}:`;
      msgs.push(i % 2
        ? { data: Buffer.from(tag + textOfSize((i * 37) % 3000)), binary: false }
        : { data: Buffer.concat([Buffer.from(tag), bytesOfSize((i * 997) % 70000, k * 100 + i)]), binary: true });
    }
    const sent = Promise.all(msgs.map((m) => c.send(m.data, { binary: m.binary })));
    for (const [i, m] of msgs.entries()) {
      const got = await c.next(`connection ${k} message ${i}`);
      assert.equal(got.isBinary, m.binary, `connection ${k} message ${i}: type`);
      assert.ok(got.data.equals(m.data), `connection ${k} message ${i}: content`);
    }
    await sent;
    assert.equal((await c.closeWith(1000)).code, 1000);
  };
  await Promise.all(Array.from({ length: 10 }, (_, k) => one(k)));
});

test('unknown path gets HTTP 404', { timeout: 30000 }, async () => {
  for (const path of ['/', '/nope', '/echo/extra']) {
    const ws = track(new WebSocket(`${BROKER_URL}${path}`, { perMessageDeflate: false }));
    const status = await withTimeout(new Promise((resolve, reject) => {
      ws.once('unexpected-response', (req, res) => { resolve(res.statusCode); req.destroy(); });
      ws.once('open', () => reject(new Error(`${path}: upgraded instead of 404`)));
      ws.on('error', (e) => reject(e));
    }), OPEN_MS, `response for ${path}`);
    assert.equal(status, 404, `${path}`);
  }
});
