/** Transfer completion: one clean "file arrived" event per file. See docs/transfers.md. */
export { DEFAULT_TEMP_DIRS, DEFAULT_TEMP_PATTERNS, RSYNC_TEMP, type TransferFilter } from './names.js';
export { pollTransfers, trackTransfers, type TrackTransfersOptions } from './track.js';
export { TransferTracker } from './tracker.js';
export {
  TRANSFER_EVENTS, type AbandonReason, type ArrivalKind, type TransferAbandoned, type TransferComplete,
  type TransferEvents, type TransferInProgress, type TransferNotification, type TransferStart, type TransferTrackerOptions,
} from './types.js';
