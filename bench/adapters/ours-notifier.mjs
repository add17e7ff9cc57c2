// OUR core layer: WatchManager (rec + autoAdd) and Notifier 'event' with full pathnames.
import { benchMask, runAdapter } from './common.mjs';
import { lib } from './ours.mjs';

runAdapter({
  async start(ctx) {
    const wm = new lib.WatchManager();
    const notifier = new lib.Notifier(wm);
    ctx.exposesOverflow();
    // The mask as a number and one clock read per batch, as the C reader and ours-raw record them.
    notifier.on('event', (e) => ctx.record(e.mask, e.pathname, ctx.batchNow()));
    notifier.on('overflow', () => ctx.overflow());
    notifier.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
    const added = await wm.addWatch(ctx.root, ctx.mask ?? benchMask(lib), { rec: true, autoAdd: true });
    return { close: () => notifier.close(), info: { watches: added?.size } };
  },
});
