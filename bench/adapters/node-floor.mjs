// Node's floor for one inotify event: fs.watch(dir) without recursion is libuv's
// own inotify reader, in C inside Node, calling JS once per event. No library
// can hand an event to JS sooner; the latency ladder measures our layers against it.
import { watch } from 'node:fs';
import { runAdapter } from './common.mjs';

runAdapter({
  start(ctx) {
    const w = watch(ctx.root, (kind, name) => ctx.record(kind, name ?? ''));
    w.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
    return { close: () => w.close(), info: { watches: 1 } };
  },
});
