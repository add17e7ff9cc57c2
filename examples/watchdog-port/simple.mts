// watchdog's quickstart example (docs/source/examples/simple.py) with
// inotify-native, line for line: the same handler methods, the same event
// fields, the same log lines (`INFO:root:Created: FileCreatedEvent(...)`).
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import {
  FileSystemEventHandler, Observer, type DirCreatedEvent, type DirDeletedEvent, type DirModifiedEvent, type DirMovedEvent,
  type FileClosedEvent, type FileClosedNoWriteEvent, type FileCreatedEvent, type FileDeletedEvent, type FileModifiedEvent,
  type FileMovedEvent, type FileOpenedEvent, type FileSystemEvent,
} from 'inotify-native';

// Python's `logging.basicConfig(level=logging.DEBUG)` + `logging.info(...)`: the root logger's line format.
let out: NodeJS.WritableStream = process.stdout;
const logging = {
  info: (message: string, ...args: unknown[]): void => {
    out.write(`INFO:root:${format(message, ...args)}\n`);
  },
};

class MyEventHandler extends FileSystemEventHandler {
  override on_any_event(event: FileSystemEvent): void {
    logging.info('Any event: %s', event);
  }

  override on_created(event: DirCreatedEvent | FileCreatedEvent): void {
    logging.info('Created: %s', event);
  }

  override on_deleted(event: DirDeletedEvent | FileDeletedEvent): void {
    logging.info('Deleted: %s', event);
  }

  override on_modified(event: DirModifiedEvent | FileModifiedEvent): void {
    logging.info('Modified: %s', event);
  }

  override on_moved(event: DirMovedEvent | FileMovedEvent): void {
    logging.info('Moved: %s', event);
  }

  override on_opened(event: FileOpenedEvent): void {
    logging.info('Opened: %s', event);
  }

  override on_closed(event: FileClosedEvent): void {
    logging.info('Closed: %s', event);
  }

  override on_closed_no_write(event: FileClosedNoWriteEvent): void {
    logging.info('Closed no write: %s', event);
  }
}

/**
 * Watches `path` recursively until `signal` aborts (Ctrl-C when run as a
 * script): Python's `observer.start()`, `time.sleep` loop, then
 * `observer.stop()` and `observer.join()` in `finally`.
 */
export async function main(path: string, stream: NodeJS.WritableStream = process.stdout, signal?: AbortSignal): Promise<void> {
  out = stream;
  const event_handler = new MyEventHandler();
  const observer = new Observer();
  observer.schedule(event_handler, path, { recursive: true });
  await observer.start();
  try {
    await new Promise<void>((resolve) => {
      if (signal?.aborted) resolve();
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await observer.stop();
    await observer.join();
  }
}

// Run as a program: `node simple.mts [path]` (default '.', as in the Python script).
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  main(process.argv[2] ?? '.', process.stdout, controller.signal).catch((error: Error) => {
    console.error(error.message);
    process.exitCode = 1;
  });
}
