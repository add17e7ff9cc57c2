/**
 * PublishScheduler: the daemon's way to forward events. Map
 * `TRANSFER_COMPLETE` (or any event) to it in an event map; each event's
 * file becomes a message in the stream, through the disk spool.
 */
import { invalidArgType } from '../errors.js';
import { SCHEDULER_OPTION_KEYS, TaskScheduler, parseDuration, type Duration, type LogSink, type SchedulerOptions, type TaskEvent } from '../tasks/index.js';
import type { TransferComplete } from '../transfer/index.js';
import { ArrivalForwarder, checkOptionNames, FORWARD_OPTION_NAMES, resolveForwardOptions, type ForwardOptions, type ResolvedForwardOptions } from './forwarder.js';

/** Options of {@link PublishScheduler}: where to forward, plus the common scheduler options. */
export interface PublishSchedulerOptions extends ForwardOptions, SchedulerOptions {
  /**
   * The watched directory, for `root` and `relpath` in messages. Default:
   * the watch the event came from, when the daemon says (TRANSFER_COMPLETE),
   * else none.
   */
  root?: string;
  /** How long a shutdown waits for the spool to empty, at most the daemon's shutdownTimeout (default '5s'). */
  drainTimeout?: Duration;
}

/** What an event may carry besides {@link TaskEvent}: the daemon's TRANSFER_COMPLETE has `transfer` and `root`. */
interface ForwardedEvent extends TaskEvent {
  readonly transfer?: TransferComplete;
  readonly root?: string;
}

/**
 * Publishes each event's file to a stream (NATS JetStream), at least once
 * and in event order: one job at a time by default (`concurrency` allows
 * more, giving up the order). The connection and the spool open when the
 * daemon starts; a spool left non-empty by an earlier run is sent first.
 *
 * @example
 * ```js
 * const publish = new PublishScheduler({ servers: 'nats://10.0.0.5:4222', spoolDir: '/var/spool/inotifyd/forward' });
 * export default defineConfig({ watches: [{ path: '/srv/incoming', rec: true, eventMap: { TRANSFER_COMPLETE: publish } }] });
 * ```
 */
export class PublishScheduler extends TaskScheduler {
  /** Its own option keys, which TaskScheduler's check accepts besides the common ones (checked in detail below). */
  static override readonly optionKeys: readonly string[] = ['job', ...FORWARD_OPTION_NAMES, 'root', 'drainTimeout'];

  /** The subject messages go to. */
  readonly subject: string;
  readonly #resolved: ResolvedForwardOptions;
  readonly #root: string | undefined;
  readonly #drainTimeout: number;
  #forwarder: Promise<ArrivalForwarder> | undefined;

  constructor(options: PublishSchedulerOptions) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options);
    if (options.root !== undefined && typeof options.root !== 'string') throw invalidArgType('root', 'a directory path', options.root);
    checkOptionNames(options, [...PublishScheduler.optionKeys.filter((key) => key !== 'job'), ...SCHEDULER_OPTION_KEYS], 'PublishScheduler');
    // The job needs this instance, which does not exist until super() returns.
    const self: { scheduler?: PublishScheduler } = {};
    super({
      concurrency: 1, logname: 'publish', ...options,
      job: (event, _id, context) => (self.scheduler as PublishScheduler).#publish(event as ForwardedEvent, context.signal),
    });
    self.scheduler = this;
    this.#resolved = resolveForwardOptions(options);
    this.subject = this.#resolved.subject;
    this.#root = options.root;
    this.#drainTimeout = parseDuration(options.drainTimeout ?? '5s', 'drainTimeout');
  }

  /** @internal Starts publishing when the daemon starts with this config (not in a dry run). */
  override _configure(sink: LogSink, dryRun: boolean): void {
    super._configure(sink, dryRun);
    if (dryRun || this.#forwarder !== undefined) return;
    this.#forwarder = ArrivalForwarder.open(this.#resolved).then((forwarder) => {
      const publisher = forwarder.publisher;
      if (publisher.pending > 0) this.log.info(`${publisher.pending} message(s) left in the spool ${publisher.spool.dir} by an earlier run: sending them first`);
      let failing = false;
      publisher.on('connect', () => {
        this.log.info(`connected to ${publisher.transport.engine}${failing ? ' again' : ''}; ${publisher.pending} message(s) to send`);
        failing = false;
      });
      publisher.on('retry', (error, delay) => {
        // The first failure of an outage at WARNING, the rest at DEBUG: one line per outage, not per attempt.
        if (!failing) this.log.warning(`${publisher.transport.engine}: ${error.message}; messages are kept in ${publisher.spool.dir} and sent when it returns (retrying every <= ${delay} ms, doubling)`);
        else this.log.debug(`${publisher.transport.engine}: still failing (${error.message}); ${publisher.pending} spooled; next try in ${delay} ms`);
        failing = true;
      });
      publisher.on('sent', (message, ack) => this.log.debug(`sent ${message.id} as stream seq ${ack.seq}${ack.duplicate ? ' (duplicate: the stream had it already)' : ''}`));
      publisher.on('rejected', (error) => this.log.error(error.message));
      return forwarder;
    });
    this.#forwarder.catch((error: unknown) => this.log.error(`cannot forward: ${(error as Error).message}`));
  }

  async #publish(event: ForwardedEvent, signal: AbortSignal): Promise<void> {
    if (this.#forwarder === undefined) throw new Error('PublishScheduler: not started (the daemon starts it)');
    const forwarder = await this.#forwarder;
    const transfer = event.transfer;
    try {
      const message = await forwarder.forward({
        pathname: event.pathnameBytes?.() ?? event.pathname,
        via: transfer?.via ?? event.maskname,
        event: event.maskname,
        time: transfer?.time ?? Date.now(),
        srcPathname: event.srcPathname,
      }, this.#root ?? event.root, signal);
      this.log.debug(`spooled ${message.id} (${message.pathname}, ${message.size} bytes)`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.warning(`${event.pathname}: gone before it could be described: not forwarded`);
        return;
      }
      throw error;
    }
  }

  /** Messages waiting in the spool (0 before the daemon starts it). */
  async pendingMessages(): Promise<number> {
    return this.#forwarder === undefined ? 0 : (await this.#forwarder).publisher.pending;
  }

  /** Lets tasks finish (see TaskScheduler), then waits up to `drainTimeout` for the spool to empty and closes the connection. */
  override async shutdown(timeout: number): Promise<number> {
    const cancelled = await super.shutdown(timeout);
    const forwarder = await this.#forwarder?.catch(() => undefined);
    if (forwarder !== undefined) {
      await forwarder.close(Math.min(this.#drainTimeout, timeout));
      if (forwarder.publisher.pending > 0) this.log.warning(`${forwarder.publisher.pending} message(s) left in ${forwarder.publisher.spool.dir}: sent on the next start`);
    }
    return cancelled;
  }
}
