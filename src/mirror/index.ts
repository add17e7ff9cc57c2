/** The mirror: one-way sync of a directory to a local or ssh destination, driven by events. See docs/mirror.md. */
export { parseDestination, type Destination } from './destination.js';
export { Mirror, type MirrorEvents, type MirrorOptions, type MirrorReconcile, type MirrorStats, type MirrorSync } from './mirror.js';
export { formatProgress, type MirrorProgress } from './progress.js';
export type { ReconcileReason } from './reconcile.js';
