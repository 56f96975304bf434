/**
 * wsbroker.js - the JavaScript client for wsbroker's /v1 pub/sub protocol
 * (docs/protocol.md), for browsers and Node 20+.
 *
 * One ES module. Its only import is @msgpack/msgpack; `npm run build` in
 * tools/js bundles both into dist/wsbroker.js, which the broker serves at
 * /wsbroker.js. The API is described in docs/clients-js-python.md and typed
 * in wsbroker.d.ts.
 *
 *     import { connect } from '/wsbroker.js';
 *     const client = await connect('ws://127.0.0.1:8080/v1', { name: 'ui' });
 *     client.on('state', (s) => console.log(s.state));
 *     await client.subscribe('md.>', (m) => console.log(m.topic, m.seq, m.data));
 *     const seq = await client.publish('md.AAPL', { bid: 189.1 }, { confirm: true });
 *
 * Why it is shaped like this:
 *  - Every envelope is one binary message holding one msgpack map. Integers
 *    arrive as JS numbers: seqs are exact below 2^53, `ts` (nanoseconds)
 *    loses its last bits, which is fine for latency in microseconds.
 *  - Reconnect is the client's job, not the caller's: when the socket drops
 *    (anything but close()), it reconnects with exponential backoff, says
 *    hello with the same session (so the broker's (session, id) publish
 *    de-duplication holds across connections), subscribes everything again
 *    and resends the confirmed publishes still waiting, with their ids.
 *  - Resume and de-duplication live in Subscription: per topic it keeps the
 *    last seq handed over, drops anything at or below it, and resubscribes an
 *    exact topic with `from` = that seq. A pattern resubscribes with
 *    `from` = 0, because protocol.md 4.3 applies one `from` to every matching
 *    topic, including topics that first matched while we were away; the
 *    broker resends what it retains and the per-topic memory drops what was
 *    already seen (gap notices below what was seen are suppressed too).
 *  - A manual-ack subscription is at-least-once: it resumes from the last
 *    acked seq, so what was delivered but not acked comes again, flagged
 *    `re: true`, like the broker's own retransmissions.
 */
import { decode, encode } from '@msgpack/msgpack';

export const SUBPROTOCOL = 'wsbroker.v1';
export const PROTOCOL_VERSION = 1;

const DEFAULTS = {
  reconnect: true,
  backoffFirstMs: 100,
  backoffMaxMs: 5000,
  maxRetries: Infinity,
  requestTimeoutMs: 30000,
};

/** An `error` or `reject` envelope, or a request that could not be answered. */
export class BrokerError extends Error {
  constructor(code, text, op) {
    super(`error ${code}: ${text}${op ? ` (op ${op})` : ''}`);
    this.name = 'BrokerError';
    this.code = code;
    this.text = text;
    this.op = op;
  }
}

/** The connection is gone and will not come back (close(), or retries spent). */
export class ConnectionLost extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConnectionLost';
  }
}

/** True for a pattern (protocol.md section 3): a `*` or `>` token. */
export function isPattern(topic) {
  return topic.split('.').some((tok) => tok === '*' || tok === '>');
}

/** The URL with path /v1 when it has none, and ?token= when asked. */
function buildUrl(url, token, tokenInUrl) {
  const u = new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new TypeError(`wsbroker: ${url} is not a ws:// or wss:// URL`);
  }
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1';
  if (token != null && tokenInUrl) u.searchParams.set('token', token);
  return u.toString();
}

/** The WebSocket constructor: the one given, the global one, or the `ws` package. */
async function findWebSocket(given) {
  if (given) return given;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  try {
    const mod = await import('ws');
    return mod.WebSocket || mod.default;
  } catch (e) {
    throw new Error('wsbroker: no WebSocket here; pass connect(url, { WebSocket }) ' +
      `(e.g. from the 'ws' package) or use Node 22+ (${e.message})`);
  }
}

/** A promise settled by hand, with its settle functions. */
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a request nobody awaits must not crash Node
  return { promise, resolve, reject, done: false };
}

function settle(d, error, value) {
  if (d.done) return false;
  d.done = true;
  if (error) d.reject(error);
  else d.resolve(value);
  return true;
}

/**
 * One `sub` on a Client. Created by client.subscribe(); the handler gets
 * every message of every topic it attaches to, de-duplicated by seq.
 */
export class Subscription {
  constructor(client, id, topic, handler, opts) {
    this.client = client;
    this.id = id;
    this.topic = topic;
    this.handler = handler;
    this.ack = opts.ack || 'none';
    this.window = opts.window;
    this.policy = opts.policy;
    this.snapshot = !!opts.snapshot;
    this.pattern = isPattern(topic);
    this.heads = new Map();      // topic -> head from its `subscribed`
    this.oldests = new Map();    // topic -> oldest from its `subscribed`
    this.start = new Map();      // topic -> seq before the first one we want
    this.last = new Map();       // topic -> last seq handed over
    this.resumeFrom = opts.from; // `from` of the next sub envelope we send
    this.ready = deferred();
    this.closed = false;
  }

  /** What `subscribed` said for an exact topic. */
  get head() {
    return this.heads.get(this.topic);
  }

  get oldest() {
    return this.oldests.get(this.topic);
  }

  envelope() {
    const env = { op: 'sub', id: this.id, topic: this.topic };
    if (this.resumeFrom != null) env.from = this.resumeFrom;
    else if (this.snapshot) env.snapshot = true;
    if (this.ack !== 'none') env.ack = this.ack;
    if (this.window != null) env.window = this.window;
    if (this.policy != null) env.policy = this.policy;
    return env;
  }

  /** A `subscribed` for topic: from here on its messages are ours. */
  attach(topic, head, oldest) {
    this.heads.set(topic, head);
    this.oldests.set(topic, oldest);
    if (this.start.has(topic)) return; // resumed: keep what we saw
    let start;
    if (this.resumeFrom != null) start = Math.min(this.resumeFrom, head);
    else if (this.snapshot) start = Math.min(oldest, head + 1) - 1;
    else start = head;
    this.start.set(topic, start);
    this.last.set(topic, start);
  }

  /** The message to hand over for env, or null when it is a duplicate. */
  accept(env) {
    const last = this.last.get(env.topic);
    if (last === undefined) return null; // not attached to this topic (yet)
    const msg = { topic: env.topic, seq: env.seq, ts: env.ts, data: env.data, re: env.re === true };
    if (env.seq > last) {
      this.last.set(env.topic, env.seq);
      return msg;
    }
    if (this.ack !== 'manual') return null;
    const floor = Math.max(this.start.get(env.topic), this.client.acked.get(env.topic) || 0);
    if (env.seq <= floor) return null;
    msg.re = true; // delivered before and not acked: at-least-once
    return msg;
  }

  /** `from` for the sub sent after a reconnect (see the file comment). */
  resumePoint() {
    if (this.pattern) return this.ready.done ? 0 : this.resumeFrom;
    if (!this.last.has(this.topic)) return this.resumeFrom;
    if (this.ack === 'manual') {
      return Math.max(this.start.get(this.topic), this.client.acked.get(this.topic) || 0);
    }
    return this.last.get(this.topic);
  }

  deliver(msg) {
    try {
      const r = this.handler(msg);
      if (r && typeof r.catch === 'function') r.catch((e) => this.client.report(e));
    } catch (e) {
      this.client.report(new BrokerError(0, `handler for ${this.topic} threw: ${e && e.message}`));
    }
  }

  /** Ends this subscription (sends `unsub`). */
  unsubscribe() {
    return this.client.unsubscribe(this.topic);
  }
}

/**
 * A wsbroker connection that reconnects by itself. Make one with connect().
 *
 * Events (client.on(name, fn) returns a function that removes fn):
 *   'state'  {state: 'connecting'|'open'|'reconnecting'|'closed', attempt, error?}
 *   'gap'    {topic, from, to}        messages that will not come (protocol.md 4.6)
 *   'error'  BrokerError | Error      an error no request was waiting for
 */
export class Client {
  constructor(url, opts, WebSocketImpl) {
    this.opts = { ...DEFAULTS, ...opts };
    const inBrowser = typeof globalThis.document !== 'undefined';
    this.url = buildUrl(url, this.opts.token, this.opts.tokenInUrl ?? inBrowser);
    this.WebSocket = WebSocketImpl;
    this.session = this.opts.session;
    this.limits = {};
    this.state = 'connecting';
    this.reconnects = 0;
    this.gaps = [];
    this.acked = new Map();      // topic -> highest seq we acked
    this.subs = new Map();       // topic string -> Subscription
    this.pending = new Map();    // request id -> {env|null, d: deferred, timer}
    this.listeners = new Map();  // event name -> Set of functions
    this.seenFloor = new Map();  // topic -> seq every subscription had at the reconnect
    this.nextId = 0;
    this.ws = null;
    this.closing = false;
    this.opened = deferred();    // settled when the current connection is usable
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event).delete(fn);
  }

  emit(event, value) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (e) {
        if (event !== 'error') this.report(e);
      }
    }
  }

  report(error) {
    if (!this.listeners.get('error') || this.listeners.get('error').size === 0) {
      console.error('wsbroker:', error);
    }
    this.emit('error', error);
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit('state', { state, reconnects: this.reconnects, ...extra });
  }

  // --- connecting ---------------------------------------------------------

  /** Opens one socket, says hello, waits for welcome. Rejects on failure. */
  openOnce() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocket(this.url, [SUBPROTOCOL]);
      } catch (e) {
        reject(e);
        return;
      }
      ws.binaryType = 'arraybuffer';
      let welcomed = false;
      const timer = setTimeout(() => {
        fail(new Error(`wsbroker: no welcome from ${this.url} in ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      const fail = (e) => {
        clearTimeout(timer);
        if (welcomed) return;
        welcomed = true; // nothing more for this attempt
        try {
          ws.close();
        } catch {
          // already closed
        }
        reject(e);
      };
      ws.onopen = () => {
        const hello = { op: 'hello', v: PROTOCOL_VERSION };
        if (this.opts.name != null) hello.name = this.opts.name;
        if (this.opts.token != null) hello.token = this.opts.token;
        if (this.session != null) hello.session = this.session;
        ws.send(encode(hello));
      };
      ws.onerror = (ev) => fail(new Error(`wsbroker: cannot connect to ${this.url}` +
        (ev && ev.message ? `: ${ev.message}` : '')));
      ws.onclose = (ev) => fail(new Error(`wsbroker: ${this.url} closed before welcome ` +
        `(code ${ev.code}${ev.reason ? `, ${ev.reason}` : ''})`));
      ws.onmessage = (ev) => {
        if (welcomed) return;
        let env;
        try {
          env = decodeEnvelope(ev.data);
        } catch (e) {
          fail(e);
          return;
        }
        if (env.op === 'error') {
          fail(new BrokerError(env.code, env.text, 'hello'));
          return;
        }
        if (env.op !== 'welcome') {
          fail(new BrokerError(0, `expected welcome, got ${env.op}`));
          return;
        }
        welcomed = true;
        clearTimeout(timer);
        this.session = env.session;
        this.limits = env.limits || {};
        this.adopt(ws);
        resolve();
      };
    });
  }

  /** Makes ws the live socket: its messages and its end are ours now. */
  adopt(ws) {
    this.ws = ws;
    ws.onmessage = (ev) => this.dispatch(ev.data);
    ws.onerror = () => {}; // onclose follows and says what matters
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.lost(ev);
    };
  }

  /** The socket is gone: reconnect unless we are closing. */
  lost(ev) {
    if (this.closing || !this.opts.reconnect) {
      this.shutdown(new ConnectionLost(`connection to ${this.url} closed (code ${ev && ev.code})`));
      return;
    }
    this.opened = deferred();
    this.reopen();
  }

  async reopen() {
    let delay = this.opts.backoffFirstMs;
    for (let attempt = 1; attempt <= this.opts.maxRetries; attempt++) {
      if (this.closing) return;
      this.setState('reconnecting', { attempt });
      try {
        await this.openOnce();
      } catch (e) {
        if (this.closing) return;
        this.setState('reconnecting', { attempt, error: e });
        await sleep(delay * (0.8 + 0.4 * Math.random()));
        delay = Math.min(delay * 2, this.opts.backoffMaxMs);
        continue;
      }
      if (this.closing) {
        this.ws.close(1000);
        return;
      }
      this.reconnects++;
      this.restore();
      settle(this.opened, null);
      this.setState('open');
      return;
    }
    this.shutdown(new ConnectionLost(`wsbroker: gave up reconnecting to ${this.url}`));
  }

  /** After a reconnect: subscribe everything again, resend what waits. */
  restore() {
    this.seenFloor = new Map();
    for (const sub of this.subs.values()) {
      for (const [topic, last] of sub.last) {
        const had = this.seenFloor.get(topic);
        this.seenFloor.set(topic, had === undefined ? last : Math.min(had, last));
      }
    }
    for (const sub of this.subs.values()) {
      sub.resumeFrom = sub.resumePoint();
      this.sendNow(sub.envelope());
    }
    for (const id of [...this.pending.keys()].sort((a, b) => a - b)) {
      const p = this.pending.get(id);
      if (p.env) this.sendNow(p.env);
    }
  }

  shutdown(error) {
    this.closing = true;
    settle(this.opened, error);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      settle(p.d, error);
      this.pending.delete(id);
    }
    for (const sub of this.subs.values()) {
      sub.closed = true;
      settle(sub.ready, error);
    }
    if (this.state !== 'closed') this.setState('closed', { error });
  }

  /** Closes cleanly (1000); no reconnect. Resolves once the socket is closed. */
  close() {
    const ws = this.ws;
    this.closing = true;
    if (!ws) {
      this.shutdown(new ConnectionLost('client closed'));
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (typeof ws.terminate === 'function') ws.terminate();
        resolve();
      }, 5000);
      ws.onclose = () => {
        clearTimeout(timer);
        this.ws = null;
        this.shutdown(new ConnectionLost('client closed'));
        resolve();
      };
      ws.close(1000);
    });
  }

  /**
   * Drops the connection as a network failure would, to see reconnect work
   * (tests, demos): in Node with `ws` the TCP connection is destroyed with no
   * close frame; a browser can only close it (code 4000).
   */
  dropConnection() {
    const ws = this.ws;
    if (!ws) return;
    if (typeof ws.terminate === 'function') ws.terminate();
    else ws.close(4000, 'dropConnection');
  }

  // --- requests -----------------------------------------------------------

  newId() {
    this.nextId += 1;
    return this.nextId;
  }

  sendNow(env) {
    this.ws.send(encode(env));
  }

  /** Sends now, or once the reconnect in progress is done (bounded). */
  async send(env) {
    if (this.closing) throw new ConnectionLost('client is closed');
    if (!this.ws || this.state !== 'open') {
      await withTimeout(this.opened.promise, this.opts.requestTimeoutMs, 'not connected');
    }
    this.sendNow(env);
  }

  /**
   * Sends env (which has an id) and resolves with the answer naming that
   * id. With resend, a reconnect sends it again (same id).
   */
  request(env, resend = true) {
    if (this.closing) return Promise.reject(new ConnectionLost('client is closed'));
    const d = deferred();
    const timer = setTimeout(() => {
      this.pending.delete(env.id);
      settle(d, new BrokerError(0, `no answer to ${env.op} #${env.id} in ${this.opts.requestTimeoutMs} ms`, env.op));
    }, this.opts.requestTimeoutMs);
    this.pending.set(env.id, { env: resend ? env : null, d, timer });
    if (this.ws && this.state === 'open') this.sendNow(env);
    // else: restore() sends it after the reconnect
    return d.promise.finally(() => {
      clearTimeout(timer);
      this.pending.delete(env.id);
    });
  }

  /**
   * Subscribes to a topic or pattern. Resolves with the Subscription once the
   * broker has taken it (an exact topic's `subscribed`, or a pattern's
   * confirming `subscribed` without `match`).
   */
  async subscribe(topic, handler, opts = {}) {
    if (typeof handler !== 'function') throw new TypeError('wsbroker: subscribe needs a handler function');
    if (this.subs.has(topic)) throw new BrokerError(13, `already subscribed to ${topic} on this client`, 'sub');
    const sub = new Subscription(this, this.newId(), topic, handler, opts);
    if (this.closing) throw new ConnectionLost('client is closed');
    this.subs.set(topic, sub);
    // While reconnecting, restore() sends it with the others.
    if (this.ws && this.state === 'open') this.sendNow(sub.envelope());
    try {
      await withTimeout(sub.ready.promise, this.opts.requestTimeoutMs, `subscribed ${topic}`);
    } catch (e) {
      if (this.subs.get(topic) === sub) this.subs.delete(topic);
      sub.closed = true;
      throw e;
    }
    return sub;
  }

  /** Removes the subscription made with exactly this topic string. */
  async unsubscribe(topic) {
    const sub = this.subs.get(topic);
    this.subs.delete(topic);
    if (sub) sub.closed = true;
    if (!this.ws || this.state !== 'open') return; // the next connection never has it
    // `unsub` has no success reply: a pong after it means no error came.
    const id = this.newId();
    const d = deferred();
    this.pending.set(id, { env: null, d, timer: null });
    try {
      await this.send({ op: 'unsub', topic, id });
      await this.ping();
      if (d.done) await d.promise;
    } finally {
      this.pending.delete(id);
    }
  }

  /**
   * Publishes data (any msgpack-encodable value) to topic. With
   * {confirm: true} resolves with the seq the broker gave it (rejects with a
   * BrokerError on `reject`); without, resolves once sent.
   */
  async publish(topic, data, opts = {}) {
    const env = { op: 'pub', topic, data, id: this.newId() };
    if (!opts.confirm) {
      await this.send(env);
      return undefined;
    }
    env.confirm = true;
    if (this.closing) throw new ConnectionLost('client is closed');
    return this.request(env);
  }

  /**
   * Acknowledges every message of topic up to seq (cumulative), for the
   * manual-ack subscriptions. While disconnected it is only remembered: the
   * resubscription after the reconnect starts after it.
   */
  ack(topic, seq) {
    if (seq > (this.acked.get(topic) || 0)) this.acked.set(topic, seq);
    if (this.ws && this.state === 'open') this.sendNow({ op: 'ack', topic, seq });
  }

  /** Round trip to the broker, in milliseconds. */
  async ping() {
    const t0 = Date.now();
    await this.request({ op: 'ping', id: this.newId() });
    return Date.now() - t0;
  }

  /** Sends any envelope as is (tests, experiments). */
  sendRaw(env) {
    return this.send(env);
  }

  // --- what the broker sends ----------------------------------------------

  dispatch(raw) {
    let env;
    try {
      env = decodeEnvelope(raw);
    } catch (e) {
      this.report(e);
      return;
    }
    switch (env.op) {
      case 'msg':
        for (const sub of this.subs.values()) {
          const msg = sub.accept(env);
          if (msg) sub.deliver(msg);
        }
        break;
      case 'subscribed':
        this.onSubscribed(env);
        break;
      case 'confirm':
        this.resolve(env.id, null, env.seq);
        break;
      case 'reject': {
        const e = new BrokerError(env.code, env.reason, 'pub');
        if (!this.resolve(env.id, e)) this.report(e);
        break;
      }
      case 'pong':
      case 'replayed':
        this.resolve(env.id, null, env);
        break;
      case 'gap':
        this.onGap(env);
        break;
      case 'error':
        this.onError(env);
        break;
      default:
        this.report(new BrokerError(0, `unexpected envelope from broker: ${env.op}`));
    }
  }

  resolve(id, error, value) {
    const p = this.pending.get(id);
    return p ? settle(p.d, error, value) : false;
  }

  subById(id) {
    for (const sub of this.subs.values()) if (sub.id === id) return sub;
    return undefined;
  }

  onSubscribed(env) {
    const sub = this.subById(env.id) || this.subs.get(env.topic);
    if (!sub) return; // unsubscribed meanwhile
    if (env.match) sub.attach(env.match, env.head, env.oldest);
    if (!env.match || !sub.pattern) settle(sub.ready, null, sub);
  }

  onGap(env) {
    // A resumed pattern asks from 0: what every subscription had is no gap.
    const from = Math.max(env.from, (this.seenFloor.get(env.topic) || 0) + 1);
    if (from > env.to) return;
    const gap = { topic: env.topic, from, to: env.to };
    this.gaps.push(gap);
    this.emit('gap', gap);
  }

  onError(env) {
    const e = new BrokerError(env.code, env.text, env.ref_op);
    if (env.ref != null && this.resolve(env.ref, e)) return;
    const sub = env.ref != null ? this.subById(env.ref) : undefined;
    if (sub && settle(sub.ready, e)) {
      this.subs.delete(sub.topic);
      return;
    }
    this.report(e);
  }
}

/** One envelope from a WebSocket message's data (ArrayBuffer, Buffer or view). */
function decodeEnvelope(data) {
  if (typeof data === 'string') throw new BrokerError(2, 'text message from broker; envelopes are binary');
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const env = decode(bytes);
  if (env === null || typeof env !== 'object' || Array.isArray(env) || typeof env.op !== 'string') {
    throw new BrokerError(1, 'envelope from broker is not a map with an op');
  }
  return env;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new ConnectionLost(`wsbroker: ${what} (waited ${ms} ms)`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/**
 * Connects to url (ws:// or wss://; a URL without a path gets /v1), says
 * hello and resolves with the Client once welcomed. The first connection
 * is not retried: an unreachable broker rejects.
 *
 * options: name, token, session, WebSocket (a constructor, e.g. the `ws`
 * package's, for Node 20), tokenInUrl (default: true in browsers),
 * reconnect (true), backoffFirstMs (100), backoffMaxMs (5000),
 * maxRetries (Infinity), requestTimeoutMs (30000).
 */
export async function connect(url, options = {}) {
  const WebSocketImpl = await findWebSocket(options.WebSocket);
  const client = new Client(url, options, WebSocketImpl);
  client.setState('connecting', { attempt: 1 });
  try {
    await client.openOnce();
  } catch (e) {
    client.closing = true;
    client.setState('closed', { error: e });
    throw e;
  }
  settle(client.opened, null);
  client.setState('open');
  return client;
}
