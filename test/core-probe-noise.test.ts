/**
 * The open-for-write probe of a scan opens each new regular file read-only:
 * the kernel reports that as IN_OPEN and IN_CLOSE_NOWRITE. Exactly those are
 * dropped, never another process's open of the same file in the same read.
 * The kernel here is the fake one, so the test chooses what a scan's reads
 * find (the interleaving a real writer produces only by chance).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_CREATE, IN_ISDIR, IN_OPEN } from '../src/index.js';
import { fakeInotify } from './helpers/fake-native.js';
import { tempDir } from './helpers/index.js';
import { EventLog, openNotifier, openWatchManager } from './helpers/notifier.js';

describe('probe noise', () => {
  test("a scan drops the probe's own IN_OPEN / IN_CLOSE_NOWRITE, not a writer's IN_OPEN of the same file in the same read", async () => {
    const root = tempDir();
    const { inotify, fake } = fakeInotify();
    const wm = openWatchManager({ inotify });
    wm.addWatch(root, IN_CREATE | IN_OPEN | IN_CLOSE_NOWRITE | IN_CLOSE_WRITE, { autoAdd: true });
    const rootWd = wm.getWd(root) as number;
    const log = new EventLog(openNotifier(wm));
    const dir = path.join(root, 'd');
    fs.mkdirSync(dir);
    const writer = fs.openSync(path.join(dir, 'f'), 'w'); // still open: the probe says "being written"
    try {
      const dWd = rootWd + 1; // the fake hands out wds in order
      fake().queueReads(
        [], // before the listing
        [ // after the listing and the probe: the probe's open and close, and the writer opening f again
          { wd: dWd, mask: IN_OPEN, name: 'f' },
          { wd: dWd, mask: IN_CLOSE_NOWRITE, name: 'f' },
          { wd: dWd, mask: IN_OPEN, name: 'f' },
        ],
      );
      fake().deliver([{ wd: rootWd, mask: IN_CREATE | IN_ISDIR, name: 'd' }, { wd: rootWd, mask: IN_CREATE, name: 'end' }]);
      await log.waitFor((e) => e.name === 'end');
      expect(wm.getWd(dir)).toBe(dWd);
      expect(log.events.map((e) => `${e.maskname} ${path.relative(root, e.pathname)}${e.synthetic ? ' (synthetic)' : ''}`)).toStrictEqual([
        'IN_CREATE|IN_ISDIR d',
        'IN_CREATE d/f (synthetic)',
        'IN_CREATE end',
        'IN_OPEN d/f',
      ]);
    } finally {
      fs.closeSync(writer);
    }
  });
});
