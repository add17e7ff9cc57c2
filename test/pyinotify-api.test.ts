/**
 * What a pyinotify user writes, and what they now get: PrintAllEvents with
 * ProcessEvent's constructor (`PrintAllEvents(out=f)`), a misspelled hook
 * caught by the compiler and by a run-time warning, and a per-watch
 * processor (`proc_fun` on `add_watch`).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import {
  IN_CLOSE_WRITE, IN_CREATE, Notifier, PrintAllEvents, ProcessEvent, TransferTracker, WatchManager, type InotifyEvent,
} from '../src/index.js';
import { ensureLib } from './helpers/child.js';
import { repoRoot, tempDir } from './helpers/index.js';

/** Resolves once `lines` holds a line matching `pattern`; `stream` is re-checked on each write. */
function waitForOutput(stream: PassThrough, text: () => string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; got:\n${text()}`)), timeoutMs);
    const check = (): void => {
      if (!pattern.test(text())) return;
      clearTimeout(timer);
      stream.off('data', check);
      resolve();
    };
    stream.on('data', check);
    check();
  });
}

/** A stream to hand as `out`, and what was written to it so far. */
function captured(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let written = '';
  out.on('data', (chunk: Buffer) => {
    written += chunk.toString();
  });
  return { out, text: () => written };
}

/** Collects the process warnings emitted while `body` runs (warnings are emitted on the next tick). */
async function warningsDuring(body: () => void): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  try {
    body();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('PrintAllEvents', () => {
  test('new PrintAllEvents(undefined, { out }) writes pyinotify lines to out (it used to throw)', async () => {
    const dir = tempDir();
    const { out, text } = captured();
    const wm = new WatchManager();
    const notifier = new Notifier(wm, new PrintAllEvents(undefined, { out }));
    try {
      wm.addWatch(dir, IN_CREATE);
      fs.writeFileSync(path.join(dir, 'a'), '');
      await waitForOutput(out, text, /^<Event dir=False mask=0x100 maskname=IN_CREATE name=a /m);
      expect(text()).toContain(`pathname=${dir}/a wd=`);
    } finally {
      await notifier.close();
    }
  });

  test('chained with a pevent, as ProcessEvent; a bad out is a coded TypeError', () => {
    const out = new PassThrough();
    const seen: string[] = [];
    const printer = new PrintAllEvents((event: InotifyEvent) => {
      seen.push(event.name);
    }, { out });
    expect(printer.out).toBe(out);
    expect(typeof printer.pevent).toBe('function');
    expect(() => new PrintAllEvents(undefined, { out: 42 as unknown as NodeJS.WritableStream }))
      .toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('misspelled hooks', () => {
  test('a process_* method that matches no event: one warning per class, with a code and the closest name', async () => {
    class Handler extends ProcessEvent {
      process_IN_CREAT(_event: InotifyEvent): void {}
      process_IN_CLOSE_WRITE(_event: InotifyEvent): void {}
    }
    const warnings = await warningsDuring(() => {
      new Handler();
      new Handler();
    });
    const ours = warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'INOTIFY_UNKNOWN_HOOK');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.name).toBe('InotifyHookWarning');
    expect(ours[0]?.message).toContain('Handler.process_IN_CREAT is not a ProcessEvent hook');
    expect(ours[0]?.message).toContain('Did you mean process_IN_CREATE?');
  });

  test('correct hooks, families and the tracker\'s own hooks raise no warning', async () => {
    class Fine extends ProcessEvent {
      process_IN_CLOSE(_event: InotifyEvent): void {}
      process_IN_MOVED(_event: InotifyEvent): void {}
      override process_default(_event: InotifyEvent): void {}
    }
    class Incoming extends TransferTracker {
      override process_transfer_complete(): void {}
    }
    const warnings = await warningsDuring(() => {
      new Fine();
      void new Incoming().close();
    });
    expect(warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'INOTIFY_UNKNOWN_HOOK')).toEqual([]);
  });

  test('implements ProcessEventHooks<Self>: tsc rejects a misspelled hook and accepts the right ones', () => {
    ensureLib();
    // Inside the package, so that `import 'inotify-native'` resolves to this package's declarations.
    const scratch = fs.mkdtempSync(path.join(repoRoot, '.hooks-'));
    try {
      const source = (hook: string): string => `import { ProcessEvent, type InotifyEvent, type ProcessEventHooks } from 'inotify-native';
export class Handler extends ProcessEvent implements ProcessEventHooks<Handler> {
  ${hook}(event: InotifyEvent): void { console.log(event.pathname); }
  override process_default(event: InotifyEvent): void { console.log(event.pathname); }
  helper(): number { return 1; }
}
`;
      fs.writeFileSync(path.join(scratch, 'bad.ts'), source('process_IN_CREAT'));
      fs.writeFileSync(path.join(scratch, 'good.ts'), source('process_IN_CREATE'));
      const result = spawnSync(process.execPath, [
        path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '--strict', '--noImplicitOverride',
        '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck',
        path.join(scratch, 'bad.ts'), path.join(scratch, 'good.ts'),
      ], { cwd: repoRoot, encoding: 'utf8' });
      const output = result.stdout + result.stderr;
      expect(output).toContain('process_IN_CREAT is not a ProcessEvent hook name');
      expect(output.split('\n').filter((line) => line.includes('error TS')).map((line) => path.basename(line.split('(')[0] ?? '')))
        .toEqual(['bad.ts']);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('addWatch(path, mask, { procFun })', () => {
  test('a watch with procFun sends its events (and its auto-added directories\') there, the others to the Notifier\'s processor', async () => {
    const a = tempDir();
    const b = tempDir();
    const toA: string[] = [];
    const toDefault: string[] = [];
    class ForA extends ProcessEvent {
      process_IN_CLOSE_WRITE(event: InotifyEvent): void {
        toA.push(event.pathname);
      }
    }
    const wm = new WatchManager();
    const notifier = new Notifier(wm, (event) => {
      if (event.mask & IN_CLOSE_WRITE) toDefault.push(event.pathname);
    });
    try {
      wm.addWatch(a, IN_CLOSE_WRITE | IN_CREATE, { rec: true, autoAdd: true, procFun: new ForA() });
      wm.addWatch(b, IN_CLOSE_WRITE);
      fs.mkdirSync(path.join(a, 'sub'));
      fs.writeFileSync(path.join(a, 'sub', 'x'), '');
      fs.writeFileSync(path.join(a, 'y'), '');
      fs.writeFileSync(path.join(b, 'z'), '');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify({ toA, toDefault })}`)), 10_000);
        // 'event' listeners run before the processors: look once they have run too.
        notifier.on('event', () => setImmediate(() => {
          if (toA.length === 2 && toDefault.length === 1) {
            clearTimeout(timer);
            resolve();
          }
        }));
      });
      expect(toA.sort()).toEqual([path.join(a, 'sub', 'x'), path.join(a, 'y')].sort());
      expect(toDefault).toEqual([path.join(b, 'z')]);
    } finally {
      await notifier.close();
    }
  });

  test('a procFun that is neither a ProcessEvent nor a function is a coded TypeError', () => {
    const wm = new WatchManager();
    try {
      expect(() => wm.addWatch(tempDir(), IN_CREATE, { procFun: 'print' as unknown as ProcessEvent }))
        .toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    } finally {
      wm.close();
    }
  });
});

describe('my_init (pyinotify\'s **kargs), as the README shows it', () => {
  test('new Handler(undefined, { out }) calls my_init with the options; a declare\'d field keeps what it set', async () => {
    const dir = tempDir();
    const { out, text } = captured();
    class EventHandler extends ProcessEvent {
      declare out: NodeJS.WritableStream;
      override my_init(options: { out?: NodeJS.WritableStream }): void {
        this.out = options.out ?? process.stdout;
      }
      process_IN_CREATE(event: InotifyEvent): void {
        this.out.write(`created ${event.pathname}\n`);
      }
    }
    const handler = new EventHandler(undefined, { out });
    expect(handler.out).toBe(out);
    const wm = new WatchManager();
    const notifier = new Notifier(wm, handler);
    try {
      wm.addWatch(dir, IN_CREATE);
      fs.writeFileSync(path.join(dir, 'new'), '');
      await waitForOutput(out, text, /^created .*\/new$/m);
    } finally {
      await notifier.close();
    }
  });
});
