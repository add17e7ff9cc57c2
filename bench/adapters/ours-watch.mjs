// OUR short path: watch(root, { events }, listener), recursive, with its defaults (rescan after an overflow on).
import { benchMask, runAdapter } from './common.mjs';
import { lib } from './ours.mjs';

runAdapter({
  start(ctx) {
    ctx.exposesOverflow();
    // watch() arms the whole tree before it returns.
    const stream = lib.watch(ctx.root, { events: ctx.mask ?? benchMask(lib) }, (e) => ctx.record(e.mask, e.pathname, ctx.batchNow()));
    stream.notifier.on('overflow', () => ctx.overflow());
    stream.notifier.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
    return { close: () => stream.close(), info: { watches: stream.notifier.watchManager?.watches.size } };
  },
});
