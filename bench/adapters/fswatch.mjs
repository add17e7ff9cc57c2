// Node's own fs.watch(dir, { recursive: true }); on Linux this is lib/internal/fs/recursive_watch.js.
// It is ready when the synchronous call returns.
import { watch } from 'node:fs';
import { runAdapter } from './common.mjs';

runAdapter({
  start(ctx) {
    const w = watch(ctx.root, { recursive: true }, (kind, name) => ctx.record(kind, name ?? ''));
    w.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
    return { close: () => w.close() };
  },
});
