// @parcel/watcher: subscribe() resolves once its crawl has added every watch.
import { createRequire } from 'node:module';
import { runAdapter } from './common.mjs';

const require = createRequire(process.env.BENCH_PEERS_DIR + '/package.json');
const watcher = require('@parcel/watcher');

runAdapter({
  async start(ctx) {
    const sub = await watcher.subscribe(ctx.root, (err, events) => {
      if (err) return ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`);
      const t = Number(process.hrtime.bigint());
      for (const e of events) ctx.record(e.type, e.path, t);
    });
    return { close: () => sub.unsubscribe() };
  },
});
