// OUR raw layer: one Inotify instance, decoded records per 'batch', recursion
// done here the way the C reader does it (watch each dir; on a new dir, watch
// it, then scan it and report what is already inside).
import { readdirSync } from 'node:fs';
import { benchMask, nowNs, runAdapter } from './common.mjs';
import { lib } from './ours.mjs';

const IN_ONLYDIR = lib.IN_ONLYDIR ?? 0x01000000;
const NEW_DIR = lib.IN_CREATE | lib.IN_MOVED_TO;

runAdapter({
  start(ctx) {
    const mask = ctx.mask ?? benchMask(lib);
    const ino = new lib.Inotify();
    const dirs = new Map(); // wd -> absolute path
    ctx.exposesOverflow();

    const walk = (dir, report) => {
      try {
        dirs.set(ino.addWatch(dir, mask | IN_ONLYDIR), dir);
      } catch (err) {
        if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return; // gone before we got there
        throw err;
      }
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const d of entries) {
        const p = `${dir}/${d.name}`;
        if (report) ctx.record(lib.IN_CREATE | (d.isDirectory() ? lib.IN_ISDIR : 0), p);
        if (d.isDirectory()) walk(p, report);
      }
    };

    ino.on('batch', (records) => {
      const t = nowNs();
      for (const r of records) {
        if (r.mask & lib.IN_Q_OVERFLOW) {
          ctx.overflow();
          ctx.record(r.mask, '', t);
          continue;
        }
        const dir = dirs.get(r.wd) ?? '?';
        const path = r.name ? `${dir}/${r.name}` : dir;
        ctx.record(r.mask, path, t);
        if (r.mask & lib.IN_ISDIR && r.mask & NEW_DIR) walk(path, true);
        else if (r.mask & lib.IN_IGNORED) dirs.delete(r.wd);
      }
    });
    ino.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));

    walk(ctx.root, false);
    return { close: () => ino.close(), info: { watches: dirs.size } };
  },
});
