/**
 * The arrival forwarder: describes a file (stat, hash, id) and hands its
 * message to the publisher, under one subject per host. Shared by
 * {@link forwardArrivals} and the daemon's {@link PublishScheduler}.
 */
import { hostname } from 'node:os';
import { invalidArgType, invalidArgValue } from '../errors.js';
import type { Duration } from '../tasks/index.js';
import { describeArrival, type ArrivalFacts } from './describe-arrival.js';
import { encodeArrival, type ArrivalMessage } from './message.js';
import { JetStreamTransport, streamSubjectsFor, type JetStreamOptions } from './jetstream-transport.js';
import { ForwardPublisher } from './publisher.js';
import type { SpoolOptions } from './spool.js';
import type { ForwardTransport } from './transport.js';

/** Where and how arrivals are forwarded. */
export interface ForwardOptions extends SpoolOptions, Omit<JetStreamOptions, 'servers'> {
  /** NATS server URL(s) (JetStream must be enabled: `nats-server -js`). Not needed with `transport`. */
  servers?: string | string[];
  /** The subject (default `inotify.arrivals.<host>`, the host's dots and spaces as `_`). */
  subject?: string;
  /** The spool directory: messages wait here until the server acknowledges them. Required. */
  spoolDir: string;
  /** The host name in messages and ids (default os.hostname()). */
  host?: string;
  /** Add each file's sha256 (streamed) to its message. Default false. */
  hash?: boolean;
  /** Another engine's connection instead of JetStream (servers and the JetStream options are then ignored). */
  transport?: ForwardTransport;
  /** First wait after a failed attempt (default '250ms'), doubled up to `retryMax` (default '10s'). */
  retryMin?: Duration;
  retryMax?: Duration;
}

/** The option names of {@link ForwardOptions}. */
export const FORWARD_OPTION_NAMES: readonly string[] = [
  'servers', 'subject', 'spoolDir', 'host', 'hash', 'transport', 'retryMin', 'retryMax', 'maxMessages', 'maxBytes', 'fsync',
  'stream', 'streamSubjects', 'createStream', 'duplicateWindow', 'ackTimeout', 'connectTimeout', 'connectOptions',
];

/** Throws ERR_INVALID_ARG_VALUE for an option name not in `allowed` (a typo such as `hsh: true` must not be ignored). */
export function checkOptionNames(options: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw invalidArgValue(`options.${key}`, (options as Record<string, unknown>)[key], `is not an option of ${what} (options: ${allowed.join(', ')})`);
  }
}

/** The subject for a host: `inotify.arrivals.<host>` with characters NATS subjects cannot hold replaced by `_`. */
export function defaultSubject(host: string): string {
  return `inotify.arrivals.${host.replace(/[\s.*>]/g, '_') || '_'}`;
}

/** Options checked once, before anything connects. */
export interface ResolvedForwardOptions {
  readonly host: string;
  readonly subject: string;
  readonly hash: boolean;
  readonly options: ForwardOptions;
  /** Makes the engine connection (not connected yet). */
  readonly makeTransport: () => ForwardTransport;
}

/** Checks the options (throws ERR_INVALID_ARG_TYPE, or ERR_FORWARD_CLIENT_MISSING when the JetStream client is absent). */
export function resolveForwardOptions(options: ForwardOptions): ResolvedForwardOptions {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
  if (typeof options.spoolDir !== 'string' || options.spoolDir === '') throw invalidArgType('spoolDir', 'a directory path (a non-empty string)', options.spoolDir);
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) throw invalidArgType('host', 'a non-empty string', options.host);
  if (options.hash !== undefined && typeof options.hash !== 'boolean') throw invalidArgType('hash', 'a boolean', options.hash);
  const host = options.host ?? hostname();
  const subject = options.subject ?? defaultSubject(host);
  if (typeof subject !== 'string' || !/^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject)) throw invalidArgType('subject', 'a NATS subject without wildcards (e.g. "arrivals.host1")', subject);
  let makeTransport: () => ForwardTransport;
  if (options.transport !== undefined) {
    const transport = options.transport;
    if (transport === null || typeof transport !== 'object' || typeof transport.publish !== 'function') throw invalidArgType('transport', 'a ForwardTransport', transport);
    makeTransport = () => transport;
  } else {
    const jetStreamOptions: JetStreamOptions = { ...options, servers: options.servers as string[], streamSubjects: options.streamSubjects ?? streamSubjectsFor(subject) };
    new JetStreamTransport(jetStreamOptions); // validates now: a bad option is a config error, not a failure at the first arrival
    makeTransport = () => new JetStreamTransport(jetStreamOptions);
  }
  return { host, subject, hash: options.hash === true, options, makeTransport };
}

/** Describes arrivals and spools their messages for the publisher, in the order given. */
export class ArrivalForwarder {
  /** The publisher (its events: 'sent', 'retry', 'connect', 'rejected'). */
  readonly publisher: ForwardPublisher;
  /** The subject messages are published on. */
  readonly subject: string;
  readonly #resolved: ResolvedForwardOptions;

  private constructor(resolved: ResolvedForwardOptions, publisher: ForwardPublisher) {
    this.#resolved = resolved;
    this.subject = resolved.subject;
    this.publisher = publisher;
  }

  /** Opens the spool (sending what an earlier run left) and starts publishing. */
  static async open(options: ForwardOptions | ResolvedForwardOptions): Promise<ArrivalForwarder> {
    const resolved = 'makeTransport' in options ? options : resolveForwardOptions(options);
    const publisher = await ForwardPublisher.open({ ...resolved.options, transport: resolved.makeTransport() });
    return new ArrivalForwarder(resolved, publisher);
  }

  /**
   * Describes the file and spools its message; resolves with the message
   * once it is on disk (it is then sent, in order, when the server is up).
   * Rejects when the file cannot be stat'd (ENOENT: gone already) or the
   * spool is full (ERR_FORWARD_SPOOL_FULL).
   */
  async forward(facts: ArrivalFacts, root: string | undefined, signal?: AbortSignal): Promise<ArrivalMessage> {
    const message = await describeArrival(facts, { host: this.#resolved.host, root, hash: this.#resolved.hash, signal });
    await this.publisher.enqueue({ subject: this.subject, id: message.id, data: encodeArrival(message) });
    return message;
  }

  /** See {@link ForwardPublisher.close}. */
  close(drainTimeout = 0): Promise<void> {
    return this.publisher.close(drainTimeout);
  }
}
