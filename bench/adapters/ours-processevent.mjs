// OUR core layer, pyinotify style: a ProcessEvent subclass with process_default.
import { benchMask, runAdapter } from './common.mjs';
import { lib } from './ours.mjs';

runAdapter({
  async start(ctx) {
    class Recorder extends lib.ProcessEvent {
      process_default(e) {
        // The mask as a number and one clock read per batch, as the C reader and ours-raw record them.
        ctx.record(e.mask, e.pathname, ctx.batchNow());
      }
    }
    const wm = new lib.WatchManager();
    const notifier = new lib.Notifier(wm, new Recorder());
    ctx.exposesOverflow();
    notifier.on('overflow', () => ctx.overflow());
    notifier.on('error', (err) => ctx.out(`ERROR ${String(err).replace(/\n/g, ' ')}`));
    const added = await wm.addWatch(ctx.root, ctx.mask ?? benchMask(lib), { rec: true, autoAdd: true });
    return { close: () => notifier.close(), info: { watches: added?.size } };
  },
});
