// chokidar: ready fires after its initial scan has set up every fs.watch handle.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { runAdapter } from './common.mjs';

const require = createRequire(process.env.BENCH_PEERS_DIR + '/package.json');
// chokidar >= 5 is ESM-only: resolve its path through the peers dir, then import it.
const chokidar = await import(pathToFileURL(require.resolve('chokidar')).href);

runAdapter({
  start(ctx) {
    return new Promise((resolve, reject) => {
      const w = chokidar.watch(ctx.root, { ignoreInitial: true, persistent: true });
      w.on('all', (kind, path) => ctx.record(kind, path));
      w.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
      w.once('ready', () => resolve({ close: () => w.close() }));
      w.once('error', reject);
    });
  },
});
