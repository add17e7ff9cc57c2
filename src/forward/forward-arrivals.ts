/**
 * forwardArrivals(root, options): every file that arrives complete under
 * `root` (the transfer tracker's TRANSFER_COMPLETE) becomes one message in
 * the stream, in arrival order, delivered at least once.
 */
import { EventEmitter } from 'node:events';
import * as nodePath from 'node:path';
import { trackTransfers, type TrackTransfersOptions, type TransferComplete, type TransferTracker } from '../transfer/index.js';
import { ArrivalForwarder, checkOptionNames, FORWARD_OPTION_NAMES, resolveForwardOptions, type ForwardOptions } from './forwarder.js';
import { decodeArrival, type ArrivalMessage } from './message.js';
import type { PublishAck } from './transport.js';

/** Options of {@link forwardArrivals}. */
export interface ForwardArrivalsOptions extends ForwardOptions {
  /** Options of the transfer tracker (filter, settleTime, quietPeriod, exclude, recursive, reportExisting, ...). */
  transfers?: TrackTransfersOptions;
}

/** Events of {@link ArrivalForwarding}. */
export interface ArrivalForwardingEvents {
  /** The arrival's message is on disk, waiting to be sent. */
  spooled: [message: ArrivalMessage];
  /** The server acknowledged it (`ack.duplicate`: it had it already). */
  sent: [message: ArrivalMessage, ack: PublishAck];
  /** An arrival not forwarded: the file was gone before it could be described, or the spool was full. */
  skipped: [pathname: string, error: Error];
  /** A connect or publish failed; retried after `delay` ms. */
  retry: [error: Error, delay: number];
  /** A message the server will never take (moved to the spool's rejected/). */
  rejected: [error: Error];
  /** The tracker failed (reading the kernel queue): watching has stopped. */
  error: [error: Error];
}

/** A running {@link forwardArrivals}. */
export class ArrivalForwarding extends EventEmitter<ArrivalForwardingEvents> {
  /** The watched directory. */
  readonly root: string;
  /** The transfer tracker feeding it. */
  readonly tracker: TransferTracker;
  /** The forwarder (its `publisher` has the spool and counters). */
  readonly forwarder: ArrivalForwarder;
  /** Arrivals described and spooled one after another: the spool's order is the arrival order. */
  #chain: Promise<void> = Promise.resolve();

  /** @internal */
  constructor(root: string, tracker: TransferTracker, forwarder: ArrivalForwarder) {
    super();
    this.root = root;
    this.tracker = tracker;
    this.forwarder = forwarder;
    tracker.on('complete', (transfer) => this.#arrived(transfer));
    tracker.on('error', (error) => this.emit('error', error));
    const publisher = forwarder.publisher;
    publisher.on('sent', (message, ack) => this.emit('sent', decodeArrival(message.data), ack));
    publisher.on('retry', (error, delay) => this.emit('retry', error, delay));
    publisher.on('rejected', (error) => this.emit('rejected', error));
  }

  #arrived(transfer: TransferComplete): void {
    this.#chain = this.#chain.then(async () => {
      try {
        const message = await this.forwarder.forward({
          pathname: transfer.pathname, via: transfer.via, time: transfer.time, srcPathname: transfer.tempPathname,
        }, this.root);
        this.emit('spooled', message);
      } catch (error) {
        this.emit('skipped', transfer.pathname, error as Error);
      }
    });
  }

  /** Arrivals waiting in the spool. */
  get pending(): number {
    return this.forwarder.publisher.pending;
  }

  /** Resolves when every arrival seen so far has been acknowledged by the server (rejects after `timeout` ms if given). */
  async flush(timeout?: number): Promise<void> {
    await this.#chain;
    await this.forwarder.publisher.flush(timeout);
  }

  /**
   * Stops watching, spools the arrivals already seen, waits up to
   * `drainTimeout` ms (default 0) for the server to take them, then closes.
   * Whatever is still spooled is sent by the next run on the same spoolDir.
   */
  async close(drainTimeout = 0): Promise<void> {
    await this.tracker.close();
    await this.#chain;
    await this.forwarder.close(drainTimeout);
  }
}

/**
 * Watches `root` for files that arrive complete and publishes one message
 * per file (host, pathname as text and exact bytes, size, mtime, optional
 * sha256, how it arrived, event time, a stable id) to NATS JetStream.
 * Resolves once watching and the spool are set up; sending goes on in the
 * background, through outages (messages wait in `spoolDir`).
 *
 * @example
 * ```ts
 * const fwd = await forwardArrivals('/srv/incoming', {
 *   servers: 'nats://127.0.0.1:4222', spoolDir: '/var/spool/inotify-forward', hash: true,
 * });
 * fwd.on('sent', (message) => console.log(`sent ${message.pathname}`));
 * ```
 */
export async function forwardArrivals(root: string, options: ForwardArrivalsOptions): Promise<ArrivalForwarding> {
  if (options !== null && typeof options === 'object') checkOptionNames(options, [...FORWARD_OPTION_NAMES, 'transfers'], 'forwardArrivals()');
  const resolved = resolveForwardOptions(options);
  const absolute = nodePath.resolve(root);
  const forwarder = await ArrivalForwarder.open(resolved);
  let tracker: TransferTracker;
  try {
    tracker = trackTransfers(absolute, options.transfers);
  } catch (error) {
    await forwarder.close();
    throw error;
  }
  return new ArrivalForwarding(absolute, tracker, forwarder);
}
