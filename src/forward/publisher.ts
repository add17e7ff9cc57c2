/**
 * The publisher: spool first, then send in order, one at a time; a message
 * leaves the spool only when the server has acknowledged it. While the
 * server is unreachable messages wait on disk and are sent when it returns,
 * also after a restart of this process.
 */
import { EventEmitter } from 'node:events';
import { invalidArgType } from '../errors.js';
import { parseDuration, type Duration } from '../tasks/index.js';
import { forwardError } from './errors.js';
import { DiskSpool, type OutgoingMessage, type SpooledMessage, type SpoolOptions } from './spool.js';
import type { ForwardTransport, PublishAck } from './transport.js';

/** Options of {@link ForwardPublisher.open}. */
export interface PublisherOptions extends SpoolOptions {
  /** The engine connection (e.g. a {@link JetStreamTransport}). The publisher closes it. */
  transport: ForwardTransport;
  /** The spool directory (created if needed; one owner process at a time). */
  spoolDir: string;
  /** First wait after a failed connect or publish (default '250ms'); doubled each time. */
  retryMin?: Duration;
  /** Longest wait between attempts (default '10s'). */
  retryMax?: Duration;
}

/** Counters of a {@link ForwardPublisher}. */
export interface PublisherStats {
  /** Messages accepted into the spool by this process. */
  spooled: number;
  /** Messages the server acknowledged as new. */
  sent: number;
  /** Messages the server acknowledged as duplicates (already in the stream). */
  duplicates: number;
  /** Messages set aside under `rejected/` (the server refused them for good, or unreadable files). */
  rejected: number;
  /** Failed connect or publish attempts (each retried). */
  retries: number;
}

/** Events of a {@link ForwardPublisher}. */
export interface PublisherEvents {
  /** The server stored the message (or had it already: `ack.duplicate`); it has left the spool. */
  sent: [message: SpooledMessage, ack: PublishAck];
  /** A connect or publish failed; the same message is tried again after `delay` ms. */
  retry: [error: Error, delay: number];
  /** Connected (again) to the server. */
  connect: [];
  /** A message that can never be sent was moved to the spool's `rejected/` directory. */
  rejected: [error: Error, file: string | undefined];
}

/**
 * At-least-once delivery to a stream: {@link ForwardPublisher.enqueue}
 * resolves once the message is on disk; a background loop sends the
 * oldest spooled message, waits for the acknowledgement, removes it, and
 * goes on. Order is kept: a message is sent only after every earlier one
 * was acknowledged. Duplicates (a re-send after a lost acknowledgement or a
 * crash) are dropped by the engine, by message id.
 */
export class ForwardPublisher extends EventEmitter<PublisherEvents> {
  /** The engine connection. */
  readonly transport: ForwardTransport;
  /** The spool. */
  readonly spool: DiskSpool;
  /** Counters since open. */
  readonly stats: PublisherStats = { spooled: 0, sent: 0, duplicates: 0, rejected: 0, retries: 0 };
  readonly #retryMin: number;
  readonly #retryMax: number;
  readonly #drained = new Set<() => void>();
  /** Ends the wait for new work (enqueue, close). */
  #wakeIdle: (() => void) | undefined;
  /** Ends a retry wait early (close only: new work must not hurry a reconnect). */
  #wakeSleep: (() => void) | undefined;
  #closing = false;
  #loop: Promise<void> = Promise.resolve();
  #closed: Promise<void> | undefined;

  private constructor(transport: ForwardTransport, spool: DiskSpool, retryMin: number, retryMax: number) {
    super();
    this.transport = transport;
    this.spool = spool;
    this.#retryMin = retryMin;
    this.#retryMax = Math.max(retryMin, retryMax);
  }

  /** Opens the spool (messages left by an earlier run are sent first) and starts sending. */
  static async open(options: PublisherOptions): Promise<ForwardPublisher> {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    const transport = options.transport;
    if (transport === null || typeof transport !== 'object' || typeof transport.publish !== 'function' || typeof transport.connect !== 'function') {
      throw invalidArgType('transport', 'a ForwardTransport (e.g. new JetStreamTransport({ servers }))', transport);
    }
    const retryMin = parseDuration(options.retryMin ?? '250ms', 'retryMin');
    const retryMax = parseDuration(options.retryMax ?? '10s', 'retryMax');
    const spool = await DiskSpool.open(options.spoolDir, options);
    const publisher = new ForwardPublisher(transport, spool, Math.max(1, retryMin), retryMax);
    publisher.#loop = publisher.#run();
    return publisher;
  }

  /** Messages waiting in the spool (not yet acknowledged). */
  get pending(): number {
    return this.spool.length;
  }

  /**
   * Writes the message to the spool; resolves once it is on disk. Rejects
   * with ERR_FORWARD_SPOOL_FULL when the spool is at its bounds, and
   * ERR_FORWARD_CLOSED after close().
   */
  async enqueue(message: OutgoingMessage): Promise<SpooledMessage> {
    if (this.#closing) throw forwardError('ERR_FORWARD_CLOSED', 'the publisher is closed');
    const spooled = await this.spool.append(message);
    this.stats.spooled++;
    this.#wakeIdle?.();
    return spooled;
  }

  /** Resolves when the spool is empty (everything acknowledged); rejects after `timeout` ms if given. */
  flush(timeout?: number): Promise<void> {
    if (this.spool.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = timeout === undefined ? undefined : setTimeout(() => {
        this.#drained.delete(done);
        reject(Object.assign(new Error(`${this.spool.length} messages still spooled after ${timeout} ms`), { code: 'ETIMEDOUT' }));
      }, timeout);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.#drained.add(done);
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    }).finally(() => {
      this.#wakeSleep = undefined;
    });
  }

  #waitForWork(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wakeIdle = resolve;
    }).finally(() => {
      this.#wakeIdle = undefined;
    });
  }

  async #run(): Promise<void> {
    let delay = this.#retryMin;
    const backOff = async (error: Error): Promise<void> => {
      this.stats.retries++;
      this.emit('retry', error, delay);
      await this.#sleep(delay);
      delay = Math.min(delay * 2, this.#retryMax);
    };
    while (!this.#closing) {
      try {
        await this.#step(backOff, () => {
          delay = this.#retryMin;
        });
      } catch (error) {
        // A spool that cannot be read or written (EIO, ENOSPC, ...): nothing is removed; try again later.
        await backOff(error as Error);
      }
    }
  }

  /** One pass: send the oldest message, or wait for one. */
  async #step(backOff: (error: Error) => Promise<void>, succeeded: () => void): Promise<void> {
    const message = await this.spool.peek((error) => {
      this.stats.rejected++;
      this.emit('rejected', error, undefined);
    });
    if (message === undefined) {
      for (const resolve of this.#drained) resolve();
      this.#drained.clear();
      if (this.spool.length === 0 && !this.#closing) await this.#waitForWork();
      return;
    }
    if (!this.transport.connected) {
      try {
        await this.transport.connect();
        this.emit('connect');
      } catch (error) {
        await backOff(error as Error);
        return;
      }
    }
    let ack: PublishAck;
    try {
      ack = await this.transport.publish(message);
    } catch (error) {
      if ((error as { permanent?: boolean }).permanent === true) {
        const file = await this.spool.reject(message.seq);
        this.stats.rejected++;
        this.emit('rejected', forwardError('ERR_FORWARD_REJECTED', `message ${message.id} refused by the server for good (${(error as Error).message})${file === undefined ? '' : `: kept as ${file}`}`, { cause: error }), file);
      } else {
        await backOff(error as Error);
      }
      return;
    }
    succeeded();
    await this.spool.remove(message.seq);
    if (ack.duplicate) this.stats.duplicates++;
    else this.stats.sent++;
    this.emit('sent', message, ack);
  }

  /**
   * Stops sending: waits up to `drainTimeout` ms (default 0) for the spool to
   * empty, lets a publish in flight finish, then closes the connection and
   * releases the spool. What is still spooled is sent by the next run.
   */
  close(drainTimeout = 0): Promise<void> {
    this.#closed ??= (async () => {
      if (drainTimeout > 0) await this.flush(drainTimeout).catch(() => undefined);
      this.#closing = true;
      this.#wakeIdle?.();
      this.#wakeSleep?.();
      await this.#loop;
      await this.transport.close();
      this.spool.close();
    })();
    return this.#closed;
  }
}
