/** Forwarding arrivals into a message stream (NATS JetStream): see docs/fleet.md. */
export { describeArrival, type ArrivalFacts, type DescribeOptions } from './describe-arrival.js';
export { forwardError, type ForwardErrorCode } from './errors.js';
export { ArrivalForwarding, forwardArrivals, type ArrivalForwardingEvents, type ForwardArrivalsOptions } from './forward-arrivals.js';
export { ArrivalForwarder, defaultSubject, type ForwardOptions } from './forwarder.js';
export { DEFAULT_STREAM, JetStreamTransport, streamSubjectsFor, type JetStreamOptions } from './jetstream-transport.js';
export {
  ARRIVAL_SCHEMA_VERSION, decodeArrival, encodeArrival, type ArrivalMessage, type DecodedArrival,
} from './message.js';
export { NATS_CLIENT_PACKAGES } from './nats-client.js';
export { PublishScheduler, type PublishSchedulerOptions } from './publish-scheduler.js';
export { ForwardPublisher, type PublisherEvents, type PublisherOptions, type PublisherStats } from './publisher.js';
export { DiskSpool, type OutgoingMessage, type SpooledMessage, type SpoolOptions } from './spool.js';
export type { ForwardTransport, PublishAck } from './transport.js';
