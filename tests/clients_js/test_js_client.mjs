// The JavaScript client (tools/js/dist/wsbroker.js, the built file the
// broker serves) in Node 20 against the running broker: publish/subscribe,
// confirm, manual ack with retransmission, and a forced disconnect (the TCP
// connection destroyed from the client side) followed by resume with no gap
// and no duplicate. Node 20 has no global WebSocket, so the tests hand
// connect() the `ws` package from the interop tests' node_modules.
//
// Run (the launcher starts the broker and sets WSB_URL):
//   tests/interop/node/ensure-deps.sh
//   /usr/bin/python3 tests/lib/broker.py --broker build/release/broker/wsbroker -- \
//       node --test --test-reporter=spec tests/clients_js/test_js_client.mjs
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connect, BrokerError } from '../../tools/js/dist/wsbroker.js';

const requireInterop = createRequire(new URL('../interop/node/package.json', import.meta.url));
const { WebSocket } = requireInterop('ws');

const BROKER_URL = process.env.WSB_URL;
if (!BROKER_URL) throw new Error('WSB_URL is not set: run through tests/lib/broker.py');
const URL_V1 = `${BROKER_URL}/v1`;
const WAIT_MS = 20000;

const clients = [];
async function open(name, extra = {}) {
  const c = await connect(URL_V1, { name, WebSocket, backoffFirstMs: 50, ...extra });
  clients.push(c);
  return c;
}
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
});

let topicCounter = 0;
function freshTopic(stem) {
  topicCounter += 1;
  return `js.${stem}.${process.pid}.${topicCounter}`;
}

/** Resolves when pred() is true (polled), rejects after ms naming what. */
async function until(pred, ms, what) {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Asserts that seqs are exactly 1..n, in order. */
function assertContiguous(seqs, n, what) {
  const dups = seqs.length - new Set(seqs).size;
  assert.equal(dups, 0, `${what}: ${dups} duplicates`);
  assert.equal(seqs.length, n, `${what}: got ${seqs.length} of ${n}`);
  seqs.forEach((s, i) => assert.equal(s, i + 1, `${what}: seq ${s} at position ${i}`));
}

test('publish with confirm returns seqs from 1; a subscriber gets every message in order', async () => {
  const topic = freshTopic('pubsub');
  const sub = await open('js-sub');
  const pub = await open('js-pub');
  const got = [];
  const s = await sub.subscribe(topic, (m) => got.push(m));
  assert.equal(s.head, 0);
  const n = 200;
  const seqs = [];
  for (let i = 0; i < n; i++) {
    seqs.push(await pub.publish(topic, { i, text: `m${i}`, f: i + 0.5 }, { confirm: true }));
  }
  assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1));
  await until(() => got.length >= n, WAIT_MS, `${n} messages`);
  assertContiguous(got.map((m) => m.seq), n, 'subscriber');
  assert.deepEqual(got[7].data, { i: 7, text: 'm7', f: 7.5 });
  assert.equal(got[7].topic, topic);
  assert.equal(got[7].re, false);
  assert.ok(got[7].ts > 1.7e18, `ts ${got[7].ts} is nanoseconds since the epoch`);
});

test('fire-and-forget publishes and a pattern subscription', async () => {
  const stem = freshTopic('pattern');
  const c = await open('js-pattern');
  const got = [];
  await c.subscribe(`${stem}.>`, (m) => got.push(`${m.topic}#${m.seq}`));
  for (const leaf of ['a', 'b', 'a']) await c.publish(`${stem}.${leaf}`, leaf);
  await until(() => got.length >= 3, WAIT_MS, 'three messages');
  assert.deepEqual(got.sort(), [`${stem}.a#1`, `${stem}.a#2`, `${stem}.b#1`]);
});

test('a rejected confirmed publish rejects with the broker code', async () => {
  const c = await open('js-reject');
  await assert.rejects(c.publish('bad..topic', 1, { confirm: true }),
    (e) => e instanceof BrokerError && e.code === 7);
  await assert.rejects(c.publish('md.>', 1, { confirm: true }),
    (e) => e instanceof BrokerError && e.code === 7);
  // The connection still serves.
  assert.equal(await c.publish(freshTopic('after-reject'), 1, { confirm: true }), 1);
});

test('an unreachable broker rejects connect with a clear error', async () => {
  const dead = 'ws://127.0.0.1:1/v1';
  await assert.rejects(connect(dead, { WebSocket }), /cannot connect to ws:\/\/127\.0\.0\.1:1\/v1/);
  await assert.rejects(connect('http://127.0.0.1:1/v1', { WebSocket }), /not a ws:\/\/ or wss:\/\/ URL/);
});

test('manual ack: unacked is retransmitted with re: true, acked is not', async () => {
  const topic = freshTopic('ack');
  const c = await open('js-ack');
  const got = [];
  await c.subscribe(topic, (m) => got.push(m), { ack: 'manual', window: 10 });
  await c.publish(topic, 'one', { confirm: true });
  await until(() => got.length >= 1, WAIT_MS, 'first delivery');
  assert.deepEqual([got[0].seq, got[0].re], [1, false]);
  // Not acked: the broker sends it again after its ack timeout (1 s default).
  await until(() => got.length >= 2, WAIT_MS, 'a retransmission');
  assert.deepEqual([got[1].seq, got[1].re, got[1].data], [1, true, 'one']);
  c.ack(topic, 1);
  await c.ping(); // the ack is in before the next publish
  await c.publish(topic, 'two', { confirm: true });
  await until(() => got.length >= 3, WAIT_MS, 'second message');
  assert.deepEqual([got[2].seq, got[2].re], [2, false]);
  c.ack(topic, 2);
  await c.ping();
  const before = got.length;
  await sleep(2500); // past the first retransmission of anything unacked
  assert.deepEqual(got.slice(before).map((m) => `${m.seq}${m.re ? ' re' : ''}`), [],
    'retransmitted after ack');
});

test('forced disconnect: subscriptions resume with no gap and no duplicate', async () => {
  const topic = freshTopic('resume');
  const stem = freshTopic('resume-pattern');
  const sub = await open('js-resume-sub');
  const pub = await open('js-resume-pub');
  const states = [];
  sub.on('state', (s) => states.push(s.state));
  const exact = [];
  const byPattern = new Map();
  await sub.subscribe(topic, (m) => exact.push(m.seq));
  await sub.subscribe(`${stem}.>`, (m) => {
    if (!byPattern.has(m.topic)) byPattern.set(m.topic, []);
    byPattern.get(m.topic).push(m.seq);
  });
  const n = 3000;
  let sent = 0;
  const publishing = (async () => {
    for (; sent < n; sent++) {
      const confirm = sent % 50 === 49; // pace the stream by a confirm now and then
      await pub.publish(topic, sent, { confirm });
      await pub.publish(`${stem}.x`, sent, { confirm });
    }
    await pub.publish(topic, 'end', { confirm: true });
    await pub.publish(`${stem}.x`, 'end', { confirm: true });
  })();
  await until(() => exact.length >= 300, WAIT_MS, 'the stream to start');
  sub.dropConnection(); // TCP destroyed, no close frame: a network failure
  const seenAtDrop = exact.length;
  await publishing;
  await until(() => exact.length >= n + 1 && (byPattern.get(`${stem}.x`) || []).length >= n + 1,
    WAIT_MS, 'every message after the reconnect');
  await sleep(300); // anything extra (a duplicate) would arrive now
  assert.ok(seenAtDrop < n, 'the drop happened mid-stream');
  assertContiguous(exact, n + 1, 'exact topic');
  assertContiguous(byPattern.get(`${stem}.x`), n + 1, 'pattern');
  assert.equal(sub.reconnects, 1);
  assert.deepEqual(sub.gaps, []);
  assert.ok(states.includes('reconnecting') && states.at(-1) === 'open', `states ${states}`);
});

test('a publisher that loses its connection resends unconfirmed publishes once', async () => {
  const topic = freshTopic('pub-resend');
  const sub = await open('js-resend-sub');
  const pub = await open('js-resend-pub');
  const got = [];
  await sub.subscribe(topic, (m) => got.push(m.seq));
  const n = 1000;
  const confirms = [];
  for (let i = 0; i < n; i++) {
    confirms.push(pub.publish(topic, i, { confirm: true }));
    if (i === n / 2) pub.dropConnection();
  }
  const seqs = await Promise.all(confirms);
  assert.deepEqual([...seqs].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1),
    'each publish sequenced exactly once');
  await until(() => got.length >= n, WAIT_MS, 'every message');
  await sleep(300);
  assertContiguous(got, n, 'subscriber');
  assert.equal(pub.reconnects, 1);
});

test('manual ack across a reconnect: what was not acked comes again', async () => {
  const topic = freshTopic('ack-resume');
  const c = await open('js-ack-resume');
  const pub = await open('js-ack-resume-pub');
  const got = [];
  await c.subscribe(topic, (m) => got.push(m), { ack: 'manual' });
  for (let i = 1; i <= 5; i++) await pub.publish(topic, i, { confirm: true });
  await until(() => got.length >= 5, WAIT_MS, 'five messages');
  c.ack(topic, 3);
  await c.ping();
  c.dropConnection();
  await until(() => got.some((m) => m.seq === 4 && m.re) && got.some((m) => m.seq === 5 && m.re),
    WAIT_MS, 'seqs 4 and 5 again after the reconnect');
  await pub.publish(topic, 6, { confirm: true });
  await until(() => got.some((m) => m.seq === 6), WAIT_MS, 'seq 6');
  const fresh = got.filter((m) => !m.re).map((m) => m.seq);
  assert.deepEqual(fresh, [1, 2, 3, 4, 5, 6]);
  assert.ok(got.filter((m) => m.re).every((m) => m.seq > 3), 'an acked message came again');
});

test('subscribe and publish while the connection is being restored', async () => {
  const topic = freshTopic('during-reconnect');
  const c = await open('js-during');
  const errors = [];
  c.on('error', (e) => errors.push(e));
  const got = [];
  const reconnecting = new Promise((resolve) => {
    const off = c.on('state', (s) => {
      if (s.state === 'reconnecting') {
        off();
        resolve();
      }
    });
  });
  c.dropConnection();
  await reconnecting; // the old socket is gone, the new one not yet open
  assert.equal(c.state, 'reconnecting');
  const sub = c.subscribe(topic, (m) => got.push(m.seq));
  const seq = c.publish(topic, 'x', { confirm: true });
  await sub;
  assert.equal(await seq, 1);
  await c.publish(topic, 'y', { confirm: true });
  await until(() => got.length >= 1, WAIT_MS, 'a message');
  await c.ping();
  assert.ok(got.every((s) => s === 1 || s === 2) && new Set(got).size === got.length, `got ${got}`);
  assert.deepEqual(errors.map((e) => e.message), []);
  assert.equal(c.reconnects, 1);
});
