/**
 * What the publisher needs from a stream engine. JetStream implements it
 * ({@link JetStreamTransport}); another engine (Redis Streams with an
 * idempotent key) would implement the same four members.
 */
import type { OutgoingMessage } from './spool.js';

/** The server's answer to one publish. */
export interface PublishAck {
  /** The message's position in the stream. */
  readonly seq: number;
  /** True when the stream already had a message with this id (the re-send was dropped). */
  readonly duplicate: boolean;
}

/** A connection to a stream engine that stores messages durably and de-duplicates them by id. */
export interface ForwardTransport {
  /** The engine's name, for logs ('jetstream'). */
  readonly engine: string;
  /** Connects (and prepares the stream); rejects when the server cannot be reached. Called again after a failure. */
  connect(): Promise<void>;
  /**
   * Publishes one message and resolves once the server has stored it (or
   * recognised its id as a duplicate). Rejects on any failure; an error with
   * `permanent: true` means a retry cannot succeed (e.g. the message is too large).
   */
  publish(message: OutgoingMessage): Promise<PublishAck>;
  /** True while connected. */
  readonly connected: boolean;
  /** Closes the connection. Idempotent. */
  close(): Promise<void>;
}
