// demo.js - the live quote table of /demo (index.html): subscribes to the
// md-feed topics (`md.<SYMBOL>`, data {sym, bid, ask, last, bsz, asz, lsz,
// t: publisher wall clock in microseconds}) through /wsbroker.js and renders
// one row per symbol with its latest seq and end-to-end latency
// (Date.now() * 1000 - t, shown in ms). Shows the connection's state, the
// reconnects, gap notices and any seq that did not increase (the client's
// de-duplication should keep that at 0). Rendering is batched per animation
// frame, so a fast feed costs one DOM update per row per frame.
//
// window.wsbDemo exposes {client, stats, rows} for tests and the console.
import { connect } from './wsbroker.js';

const params = new URLSearchParams(location.search);
const wsScheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
const url = params.get('url') || `${wsScheme}//${location.host}/v1`;
const pattern = params.get('pattern') || 'md.>';
const token = params.get('token') || undefined;

const $ = (id) => document.getElementById(id);
const stats = { messages: 0, reconnects: 0, gaps: 0, gapMessages: 0, disorder: 0, state: 'connecting' };
const rows = new Map();      // symbol -> {tr, cells, quote, seq, latencyMs}
const dirty = new Set();     // symbols to redraw on the next frame
let frameQueued = false;

function log(line) {
  const el = $('log');
  el.textContent = `${new Date().toISOString().slice(11, 23)} ${line}\n${el.textContent}`.slice(0, 4000);
}

function showState(s) {
  stats.state = s.state;
  stats.reconnects = s.reconnects;
  const el = $('status');
  el.className = s.state;
  el.textContent = s.state === 'reconnecting' ? `reconnecting (try ${s.attempt})`
    : s.state === 'open' ? 'live' : s.state;
  $('reconnects').textContent = String(s.reconnects);
  if (s.state !== 'open' || s.reconnects > 0) {
    log(`${el.textContent}${s.error ? `: ${s.error.message}` : ''}`);
  }
}

function rowFor(sym) {
  let row = rows.get(sym);
  if (row) return row;
  const tr = document.createElement('tr');
  tr.id = `row-${sym}`;
  const cells = {};
  for (const key of ['sym', 'bid', 'ask', 'last', 'bsz', 'asz', 'lsz', 'seq', 'latency']) {
    const td = document.createElement('td');
    td.className = key;
    tr.appendChild(td);
    cells[key] = td;
  }
  cells.sym.textContent = sym;
  // Rows stay sorted by symbol.
  const after = [...rows.keys()].sort().find((k) => k > sym);
  $('quotes').insertBefore(tr, after ? rows.get(after).tr : null);
  row = { tr, cells, quote: null, seq: 0, latencyMs: null };
  rows.set(sym, row);
  return row;
}

const price = (x) => (typeof x === 'number' ? x.toFixed(2) : '');
const size = (x) => (x == null ? '' : String(x));

function render() {
  frameQueued = false;
  for (const sym of dirty) {
    const row = rows.get(sym);
    const q = row.quote;
    row.cells.bid.textContent = price(q.bid);
    row.cells.ask.textContent = price(q.ask);
    row.cells.last.textContent = price(q.last);
    row.cells.bsz.textContent = size(q.bsz);
    row.cells.asz.textContent = size(q.asz);
    row.cells.lsz.textContent = size(q.lsz);
    row.cells.seq.textContent = String(row.seq);
    row.cells.latency.textContent = row.latencyMs == null ? '' : row.latencyMs.toFixed(1);
    row.tr.classList.remove('tick');
    void row.tr.offsetWidth; // restart the flash
    row.tr.classList.add('tick');
  }
  dirty.clear();
  $('messages').textContent = String(stats.messages);
  $('gaps').textContent = String(stats.gaps);
  $('disorder').textContent = String(stats.disorder);
}

function onQuote(m) {
  stats.messages++;
  const q = m.data && typeof m.data === 'object' ? m.data : {};
  const sym = typeof q.sym === 'string' ? q.sym : m.topic.slice(m.topic.indexOf('.') + 1);
  const row = rowFor(sym);
  if (m.seq <= row.seq) stats.disorder++;
  row.seq = m.seq;
  row.quote = q;
  row.latencyMs = typeof q.t === 'number' ? (Date.now() * 1000 - q.t) / 1000 : null;
  dirty.add(sym);
  if (!frameQueued) {
    frameQueued = true;
    requestAnimationFrame(render);
  }
}

let lastCount = 0;
setInterval(() => {
  $('rate').textContent = String(stats.messages - lastCount);
  lastCount = stats.messages;
}, 1000);

async function start() {
  $('pattern').textContent = `${pattern} at ${url}`;
  const client = await connect(url, { name: 'demo', token });
  window.wsbDemo = { client, stats, rows };
  client.on('state', showState);
  client.on('gap', (g) => {
    stats.gaps++;
    stats.gapMessages += g.to - g.from + 1;
    log(`gap: ${g.topic} ${g.from}..${g.to}`);
    $('gaps').textContent = String(stats.gaps);
  });
  client.on('error', (e) => log(`error: ${e.message}`));
  showState({ state: 'open', reconnects: 0 });
  $('drop').onclick = () => client.dropConnection();
  await client.subscribe(pattern, onQuote, { snapshot: true, policy: 'conflate' });
  log(`subscribed to ${pattern}`);
}

start().catch((e) => {
  showState({ state: 'closed', reconnects: stats.reconnects, error: e });
  log(`cannot start: ${e.message}`);
});
