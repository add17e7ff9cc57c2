/**
 * Loads the optional NATS client (`@nats-io/transport-node` and
 * `@nats-io/jetstream`): the core package works without it, and its
 * absence is a clear error naming what to install.
 */
import type * as JetStream from '@nats-io/jetstream';
import type * as Transport from '@nats-io/transport-node';
import { forwardError } from './errors.js';

/** The client packages, with the versions this library is tested with. */
export const NATS_CLIENT_PACKAGES = ['@nats-io/transport-node@3.3.1', '@nats-io/jetstream@3.3.1'] as const;

/** @internal The two client modules (types only at build time: the packages are optional at run time). */
export interface NatsClient {
  readonly transport: typeof Transport;
  readonly jetstream: typeof JetStream;
}

let cached: NatsClient | undefined;

/** @internal Returns the NATS client modules; throws ERR_FORWARD_CLIENT_MISSING (naming the packages) when they are not installed. */
export function loadNatsClient(): NatsClient {
  if (cached !== undefined) return cached;
  const load = (name: string): unknown => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- an optional peer dependency, loaded only when forwarding is used
      return require(name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
      throw forwardError('ERR_FORWARD_CLIENT_MISSING',
        `forwarding to NATS JetStream needs the package ${name}, which is not installed: npm install ${NATS_CLIENT_PACKAGES.join(' ')}`,
        { cause: error });
    }
  };
  cached = {
    transport: load('@nats-io/transport-node') as NatsClient['transport'],
    jetstream: load('@nats-io/jetstream') as NatsClient['jetstream'],
  };
  return cached;
}
