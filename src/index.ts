/**
 * inotify-native: Linux inotify for Node.js.
 * @packageDocumentation
 */
export * from './constants.js';
export { decodeRecords, encodeRecords, MalformedBatchError, type RawRecord } from './decode.js';
export { Inotify, type InotifyEvents, type InotifyOptions } from './inotify.js';
export type { PathLike } from './validate.js';
