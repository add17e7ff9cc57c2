/**
 * The NATS JetStream engine: a publish counts as sent when the stream's
 * PubAck arrives; the message id travels as `Nats-Msg-Id`, so a re-send
 * within the stream's duplicate window is dropped by the server.
 */
import { invalidArgType, outOfRange } from '../errors.js';
import { parseDuration, type Duration } from '../tasks/index.js';
import { loadNatsClient } from './nats-client.js';
import type { OutgoingMessage } from './spool.js';
import type { ForwardTransport, PublishAck } from './transport.js';

/** The stream created when none exists (default name). */
export const DEFAULT_STREAM = 'INOTIFY_ARRIVALS';

/** Options of {@link JetStreamTransport}. */
export interface JetStreamOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** The stream (default `INOTIFY_ARRIVALS`). Created at connect if it does not exist, unless `createStream: false`. */
  stream?: string;
  /** Subjects of a stream this creates (default `['inotify.arrivals.>']`; {@link streamSubjectsFor} gives a subject's family). */
  streamSubjects?: string[];
  /** Create the stream when missing (default true). An existing stream is used as it is. */
  createStream?: boolean;
  /** The duplicate window of a stream this creates (default '2m', the server's default). Re-sends are dropped within it. */
  duplicateWindow?: Duration;
  /** How long to wait for the server's acknowledgement of one publish (default '5s'). */
  ackTimeout?: Duration;
  /** How long one connection attempt may take (default '5s'). */
  connectTimeout?: Duration;
  /** Other options for the client's `connect()` (user, pass, token, tls, name, ...). */
  connectOptions?: Record<string, unknown>;
}

/** The subjects of a stream that takes `subject` and its siblings: `a.b.c` -> `['a.b.>']`. */
export function streamSubjectsFor(subject: string): string[] {
  const parts = subject.split('.');
  return parts.length > 1 ? [`${parts.slice(0, -1).join('.')}.>`] : [subject];
}

/** JetStream API error codes that no retry can fix. */
const PERMANENT_API_CODES = new Set([10054 /* message size exceeds maximum */]);

type Connection = Awaited<ReturnType<ReturnType<typeof loadNatsClient>['transport']['connect']>>;
type JetStreamClient = ReturnType<ReturnType<typeof loadNatsClient>['jetstream']['jetstream']>;

/** A {@link ForwardTransport} over NATS JetStream (client: `@nats-io/transport-node` + `@nats-io/jetstream`). */
export class JetStreamTransport implements ForwardTransport {
  readonly engine = 'jetstream';
  /** The stream messages are stored in. */
  readonly stream: string;
  readonly #options: JetStreamOptions;
  readonly #servers: string[];
  readonly #ackTimeout: number;
  readonly #connectTimeout: number;
  readonly #duplicateWindow: number;
  #nc: Connection | undefined;
  #js: JetStreamClient | undefined;

  /** Checks the options and that the client packages are installed (ERR_FORWARD_CLIENT_MISSING otherwise); connects later. */
  constructor(options: JetStreamOptions) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
    if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => typeof s === 'string' && s !== '')) {
      throw invalidArgType('servers', 'a server URL or a non-empty array of them', options.servers);
    }
    if (options.stream !== undefined && (typeof options.stream !== 'string' || !/^[^\s.*>/\\]+$/.test(options.stream))) {
      throw invalidArgType('stream', 'a stream name (no spaces, ".", "*", ">", "/")', options.stream);
    }
    this.#servers = servers;
    this.#options = options;
    this.stream = options.stream ?? DEFAULT_STREAM;
    this.#ackTimeout = parseDuration(options.ackTimeout ?? '5s', 'ackTimeout');
    this.#connectTimeout = parseDuration(options.connectTimeout ?? '5s', 'connectTimeout');
    this.#duplicateWindow = parseDuration(options.duplicateWindow ?? '2m', 'duplicateWindow');
    if (this.#ackTimeout < 1) throw outOfRange('ackTimeout', '>= 1 ms', options.ackTimeout);
    loadNatsClient();
  }

  get connected(): boolean {
    return this.#nc !== undefined && !this.#nc.isClosed();
  }

  /** Connects, then makes sure the stream exists. */
  async connect(): Promise<void> {
    if (this.connected) return;
    const { transport, jetstream } = loadNatsClient();
    const nc = await transport.connect({
      // Reconnection is the publisher's job (it re-sends from the spool): the client's own
      // reconnect would buffer publishes in memory, where a crash loses them.
      ...this.#options.connectOptions,
      servers: this.#servers,
      timeout: this.#connectTimeout,
      reconnect: false,
    });
    try {
      if (this.#options.createStream !== false) {
        const jsm = await jetstream.jetstreamManager(nc, { timeout: this.#ackTimeout });
        try {
          await jsm.streams.info(this.stream);
        } catch (error) {
          if ((error as { code?: unknown }).code !== 10059 && !/stream not found/i.test(String((error as Error).message))) throw error;
          const subjects = this.#options.streamSubjects ?? ['inotify.arrivals.>'];
          await jsm.streams.add({ name: this.stream, subjects, duplicate_window: transport.nanos(this.#duplicateWindow) });
        }
      }
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw error;
    }
    this.#nc = nc;
    this.#js = jetstream.jetstream(nc, { timeout: this.#ackTimeout });
  }

  async publish(message: OutgoingMessage): Promise<PublishAck> {
    const js = this.#js;
    if (js === undefined || !this.connected) throw Object.assign(new Error('not connected to NATS'), { code: 'ERR_FORWARD_NOT_CONNECTED' });
    try {
      const ack = await js.publish(message.subject, message.data, { msgID: message.id, timeout: this.#ackTimeout });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      const err = error as Error & { permanent?: boolean; code?: unknown; api_error?: { err_code?: number } };
      const apiCode = err.api_error?.err_code ?? (typeof err.code === 'number' ? err.code : undefined);
      if ((apiCode !== undefined && PERMANENT_API_CODES.has(apiCode)) || /max.?payload/i.test(err.message)) err.permanent = true;
      else if (/timeout|TIMEOUT|closed|CONNECTION/i.test(`${err.name} ${err.message} ${String(err.code)}`)) {
        // Connection trouble: drop this connection so the next attempt reconnects.
        void this.close();
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    const nc = this.#nc;
    this.#nc = undefined;
    this.#js = undefined;
    if (nc !== undefined && !nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
