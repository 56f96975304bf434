// wsbroker.d.ts - the typed surface of wsbroker.js (and of dist/wsbroker.js,
// the bundled file the broker serves at /wsbroker.js). Protocol:
// docs/protocol.md; usage: docs/clients-js-python.md.

export const SUBPROTOCOL: 'wsbroker.v1';
export const PROTOCOL_VERSION: 1;

/** Anything @msgpack/msgpack can encode: passed through the broker byte for byte. */
export type Data = unknown;

export interface ConnectOptions {
  /** Sent in hello (<= 64 bytes); shows in the broker's logs. */
  name?: string;
  /** Sent in hello, and as ?token= in the URL when tokenInUrl. */
  token?: string;
  /** Put the token in the URL too (browsers cannot set headers). Default: true in browsers. */
  tokenInUrl?: boolean;
  /** Resume an earlier session (publish de-duplication, protocol.md 4.4). */
  session?: string;
  /** A WebSocket constructor; default the global one, else the `ws` package. */
  WebSocket?: new (url: string, protocols?: string | string[]) => any;
  /** Reconnect when the connection drops (default true). */
  reconnect?: boolean;
  /** First reconnect delay (default 100 ms), doubled per failed try up to backoffMaxMs (5000). */
  backoffFirstMs?: number;
  backoffMaxMs?: number;
  /** Reconnect tries before giving up (default Infinity). */
  maxRetries?: number;
  /** How long hello, subscribe, confirms and pings may wait (default 30000 ms). */
  requestTimeoutMs?: number;
}

export interface Message<T = Data> {
  topic: string;
  /** Per-topic sequence number, from 1. */
  seq: number;
  /** When the broker sequenced it: nanoseconds since the Unix epoch (as a float). */
  ts: number;
  data: T;
  /** A retransmission of an unacked message (manual ack). */
  re: boolean;
}

export interface SubscribeOptions {
  /** Resume: every retained message with seq > from, then live. */
  from?: number;
  ack?: 'none' | 'manual';
  /** Un-acked messages in flight per topic (manual ack). */
  window?: number;
  snapshot?: boolean;
  policy?: 'disconnect' | 'drop' | 'conflate';
}

export interface PublishOptions {
  /** Wait for the broker's confirm; the promise resolves with the seq. */
  confirm?: boolean;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateEvent {
  state: ConnectionState;
  /** Successful reconnects so far. */
  reconnects: number;
  /** The try number while connecting or reconnecting. */
  attempt?: number;
  /** Why the last try failed, or why the client closed. */
  error?: Error;
}

export interface GapEvent {
  topic: string;
  from: number;
  to: number;
}

export interface ClientEvents {
  state: StateEvent;
  gap: GapEvent;
  error: Error;
}

export class BrokerError extends Error {
  /** protocol.md section 5; 0 for client-side failures. */
  code: number;
  text: string;
  /** The failed request's op. */
  op?: string;
}

export class ConnectionLost extends Error {}

export class Subscription {
  readonly id: number;
  readonly topic: string;
  readonly pattern: boolean;
  /** Per matching topic: what `subscribed` said. */
  readonly heads: Map<string, number>;
  readonly oldests: Map<string, number>;
  /** Per matching topic: the last seq handed to the handler. */
  readonly last: Map<string, number>;
  /** For an exact topic: heads/oldests of that topic. */
  readonly head: number | undefined;
  readonly oldest: number | undefined;
  unsubscribe(): Promise<void>;
}

export class Client {
  readonly url: string;
  readonly session: string;
  readonly limits: Record<string, number>;
  readonly state: ConnectionState;
  readonly reconnects: number;
  /** Every gap notice so far. */
  readonly gaps: GapEvent[];
  on<K extends keyof ClientEvents>(event: K, fn: (value: ClientEvents[K]) => void): () => void;
  subscribe<T = Data>(topic: string, handler: (msg: Message<T>) => void | Promise<void>,
    options?: SubscribeOptions): Promise<Subscription>;
  unsubscribe(topic: string): Promise<void>;
  publish(topic: string, data: Data, options: PublishOptions & { confirm: true }): Promise<number>;
  publish(topic: string, data: Data, options?: PublishOptions): Promise<number | undefined>;
  /** Cumulative: every message of topic with seq <= seq. */
  ack(topic: string, seq: number): void;
  /** Round-trip time in milliseconds. */
  ping(): Promise<number>;
  /** Close cleanly (1000); no reconnect. */
  close(): Promise<void>;
  /** Drop the connection as a network failure would (tests, demos); the client reconnects. */
  dropConnection(): void;
  /** Send any envelope as is (tests, experiments). */
  sendRaw(env: Record<string, unknown>): Promise<void>;
}

export function isPattern(topic: string): boolean;
export function connect(url: string, options?: ConnectOptions): Promise<Client>;
