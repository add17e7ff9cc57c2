/** The mirror: one-way sync of a directory to a local or ssh destination, or two-way sync of two directories, driven by events. See docs/mirror.md. */
export { parseDestination, type Destination } from './destination.js';
export { Mirror, type MirrorEvents, type MirrorOptions, type MirrorReconcile, type MirrorStats, type MirrorSync } from './mirror.js';
export { formatProgress, type MirrorProgress } from './progress.js';
export type { ReconcileReason } from './reconcile.js';
export { defaultStateDir } from './state-dir.js';
export { StateStore } from './state-store.js';
export type { MirrorConflict } from './two-way.js';
export { remoteTwoWayStatus, twoWayStatus, type RemoteTwoWayStatusOptions, type TwoWayPendingPath, type TwoWayStatus, type TwoWayStatusOptions } from './status.js';
export { RemoteSide, type RemoteChange, type RemoteRoot, type RemoteSideEvents, type RemoteSideOptions } from './remote-side.js';
export { insideRoot, PATH_ESCAPE } from './safe-path.js';
export { MirrorServer, PROTOCOL_VERSION, type WireEntry } from './serve.js';
