// Shared pieces for the Node interop tests: where the broker is, bounded
// waits, and reproducible payloads of an exact byte size.
//
// The broker is started by tests/lib/broker.py (run as a launcher), which
// sets WSB_URL=ws://HOST:PORT for the command it runs.

export const BROKER_URL = process.env.WSB_URL;
if (!BROKER_URL) {
  throw new Error('WSB_URL is not set: run through tests/lib/broker.py --broker PATH -- node ...');
}
export const ECHO_URL = `${BROKER_URL}/echo`;

// Frame-length boundaries: 7-bit/16-bit at 125/126, 16-bit/64-bit at 65535/65536.
export const SIZES = [0, 1, 125, 126, 65535, 65536, 1024 * 1024];

/** Resolve/reject with p, or reject after ms naming what timed out. */
export function withTimeout(p, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// Mixed 1- to 4-byte UTF-8 sequences.
const TEXT_UNIT = 'wsbroker é ß € ✓ 😀 𝄞 ';
const TEXT_UNIT_BYTES = Buffer.byteLength(TEXT_UNIT);

/** A string whose UTF-8 encoding is exactly n bytes. */
export function textOfSize(n) {
  let s = TEXT_UNIT.repeat(Math.floor(n / TEXT_UNIT_BYTES));
  s += '.'.repeat(n - Buffer.byteLength(s));
  return s;
}

/** n reproducible pseudo-random bytes (xorshift32 seeded by seed). */
export function bytesOfSize(n, seed = n) {
  const buf = Buffer.alloc(n);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    buf[i] = x & 0xff;
  }
  return buf;
}
