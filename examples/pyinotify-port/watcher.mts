// The same script with inotify-native, line for line.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  IN_CLOSE_WRITE, IN_CREATE, IN_DELETE, IN_MOVED_TO, Notifier, ProcessEvent, WatchManager,
  type InotifyEvent, type ProcessEventHooks,
} from 'inotify-native';

// `implements ProcessEventHooks<EventHandler>`: a misspelled hook name is a compile error.
class EventHandler extends ProcessEvent implements ProcessEventHooks<EventHandler> {
  readonly out: NodeJS.WritableStream;

  // pyinotify's my_init(self, out): a plain constructor.
  constructor(options: { out?: NodeJS.WritableStream } = {}) {
    super();
    this.out = options.out ?? process.stdout;
  }

  process_IN_CREATE(event: InotifyEvent): void {
    const kind = event.dir ? 'dir' : 'file';
    this.out.write(`created ${kind} ${event.pathname}\n`);
  }

  process_IN_CLOSE_WRITE(event: InotifyEvent): void {
    this.out.write(`written ${event.pathname}\n`);
  }

  process_IN_MOVED_TO(event: InotifyEvent): void {
    const src = event.srcPathname;
    this.out.write(`moved ${src} -> ${event.pathname}\n`);
  }

  process_IN_DELETE(event: InotifyEvent): void {
    this.out.write(`deleted ${event.pathname}\n`);
  }
}

/** Runs the watcher on `dir` until `signal` aborts (Ctrl-C when run as a script). */
export async function main(dir: string, out: NodeJS.WritableStream = process.stdout, signal?: AbortSignal): Promise<void> {
  const wm = new WatchManager();
  const mask = IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE;
  const notifier = new Notifier(wm, new EventHandler({ out }));
  wm.addWatch(dir, mask, { rec: true, autoAdd: true });
  await notifier.loop({ signal });
}

// Run as a program (not imported, as the test does): the ESM form of `require.main === module`.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  main(process.argv[2] ?? '.', process.stdout, controller.signal).catch((error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
