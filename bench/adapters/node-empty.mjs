// No watcher: what a Node adapter process costs before it watches anything.
import { runAdapter } from './common.mjs';

runAdapter({ start: () => ({ close() {} }) });
