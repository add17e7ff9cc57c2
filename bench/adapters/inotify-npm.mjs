// The `inotify` npm package (c4milo/node-inotify): raw inotify, not recursive,
// so this adapter walks the tree and watches each directory itself.
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { runAdapter } from './common.mjs';

const require = createRequire(process.env.BENCH_PEERS_DIR + '/package.json');
const { Inotify } = require('inotify');

runAdapter({
  start(ctx) {
    const ino = new Inotify();
    const mask =
      Inotify.IN_CREATE | Inotify.IN_DELETE | Inotify.IN_MODIFY | Inotify.IN_ATTRIB | Inotify.IN_CLOSE_WRITE |
      Inotify.IN_MOVED_FROM | Inotify.IN_MOVED_TO | Inotify.IN_DELETE_SELF | Inotify.IN_MOVE_SELF;
    const watchDir = (dir) => {
      ino.addWatch({
        path: dir,
        watch_for: mask,
        callback: (e) => {
          const path = e.name ? `${dir}/${e.name}` : dir;
          ctx.record(String(e.mask), path);
          if (e.name && e.mask & Inotify.IN_ISDIR && e.mask & (Inotify.IN_CREATE | Inotify.IN_MOVED_TO)) walk(path, true);
        },
      });
    };
    const walk = (dir, report) => {
      watchDir(dir);
      for (const d of readdirSync(dir, { withFileTypes: true })) {
        const p = `${dir}/${d.name}`;
        if (report) ctx.record('scan', p);
        if (d.isDirectory()) walk(p, report);
      }
    };
    walk(ctx.root, false);
    return { close: () => ino.close() };
  },
});
