import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'vitest';
import { repoRoot, tempDir } from './helpers/index.js';
import { startMirror, startSshd, treeDiff } from './mirror-helpers.js';

const REMOTE_COMMAND = [process.execPath, path.join(repoRoot, 'lib', 'cli', 'inotify-mirror.js')];

it('measure', async () => {
  const sshd = await startSshd();
  for (const remote of [false, true]) {
    const dir = tempDir('measure-');
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    for (const [root, tag] of [[a, 'a'], [b, 'b']] as const) {
      for (let d = 0; d < 20; d++) {
        fs.mkdirSync(path.join(root, `d${d}`), { recursive: true });
        for (let f = 0; f < 50; f++) fs.writeFileSync(path.join(root, `d${d}`, `${tag}-${f}`), `${tag} ${d} ${f}`.repeat(50));
      }
    }
    const t0 = process.hrtime.bigint();
    const log = await startMirror(a, remote ? `127.0.0.1:${b}` : b, { twoWay: true, state: path.join(dir, 'state'), ssh: sshd.ssh, ...(remote ? { remoteCommand: REMOTE_COMMAND } : {}) });
    const t1 = process.hrtime.bigint();
    const diff = treeDiff(a, b);
    // a burst of 200 edits on the far side
    for (let f = 0; f < 200; f++) fs.appendFileSync(path.join(b, 'd0', `a-${f % 50}`), 'x');
    const t2 = process.hrtime.bigint();
    await log.until(() => treeDiff(a, b) === '', 'burst', 60_000);
    await log.mirror.idle();
    const t3 = process.hrtime.bigint();
    console.log(`MEASURE remote=${remote} merge of 2x1000 files: ${Number(t1 - t0) / 1e6} ms, diff empty=${diff === ''}, reconcile=${JSON.stringify(log.reconciles[0])}; burst converge ${Number(t3 - t2) / 1e6} ms, rsync sends=${log.syncs.filter((s) => s.type === 'send').length}`);
    await log.mirror.close();
  }
}, 300_000);
