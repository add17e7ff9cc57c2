// The watchdog compat layer's pure parts: events, dispatch, patterns, regexes,
// logging. Cases marked "watchdog:" are ported from watchdog's own tests
// (tests/test_patterns.py, test_pattern_matching_event_handler.py,
// test_regex_matching_event_handler.py, test_logging_event_handler.py).
import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import {
  DirCreatedEvent, DirDeletedEvent, DirModifiedEvent, DirMovedEvent, EVENT_TYPE_CLOSED, EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_CREATED,
  EVENT_TYPE_DELETED, EVENT_TYPE_MODIFIED, EVENT_TYPE_MOVED, EVENT_TYPE_OPENED, FileClosedEvent, FileClosedNoWriteEvent, FileCreatedEvent,
  FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileOpenedEvent, FileSystemEventHandler, LoggingEventHandler,
  PatternMatchingEventHandler, RegexMatchingEventHandler, filter_paths, match_any_paths, type FileSystemEvent,
} from '../src/index.js';

/** Every kind of event watchdog's handler tests dispatch: (match, not match, ignored) x (dir, file) x (deleted, created, modified, moved). */
function watchdogTestEvents(): { event: FileSystemEvent; label: string }[] {
  const out: { event: FileSystemEvent; label: string }[] = [];
  const kinds = [
    ['del', DirDeletedEvent, FileDeletedEvent], ['cre', DirCreatedEvent, FileCreatedEvent], ['mod', DirModifiedEvent, FileModifiedEvent],
  ] as const;
  for (const [kind, Dir, File] of kinds) {
    out.push(
      { label: `dir_${kind}_match`, event: new Dir('/path/blah.py') },
      { label: `dir_${kind}_not_match`, event: new Dir('/path/foobar') },
      { label: `dir_${kind}_ignored`, event: new Dir('/path/foobar.pyc') },
      { label: `file_${kind}_match`, event: new File('/path/blah.txt') },
      { label: `file_${kind}_not_match`, event: new File('/path/foobar') },
      { label: `file_${kind}_ignored`, event: new File('/path/blah.pyc') },
    );
  }
  out.push(
    { label: 'dir_mov_match', event: new DirMovedEvent('/path/blah.py', '/path/blah') },
    { label: 'dir_mov_not_match', event: new DirMovedEvent('/path/foobar', '/path/blah') },
    { label: 'dir_mov_ignored', event: new DirMovedEvent('/path/foobar.pyc', '/path/blah') },
    { label: 'file_mov_match', event: new FileMovedEvent('/path/blah.txt', '/path/blah') },
    { label: 'file_mov_not_match', event: new FileMovedEvent('/path/foobar', '/path/blah') },
    { label: 'file_mov_ignored', event: new FileMovedEvent('/path/blah.pyc', '/path/blah') },
  );
  return out;
}

/** Dispatches each event and returns the labels of those that reached on_any_event, checking the specific method ran too. */
function dispatched(make: () => FileSystemEventHandler & { seen: FileSystemEvent[]; specific: string[] }): string[] {
  const handler = make();
  const labels: string[] = [];
  for (const { event, label } of watchdogTestEvents()) {
    const before = handler.seen.length;
    void handler.dispatch(event);
    if (handler.seen.length > before) {
      labels.push(label);
      expect(handler.specific.at(-1)).toBe(event.event_type);
    }
  }
  return labels;
}

/** `handler`, logging what reaches on_any_event and which specific method ran (instance methods shadow the class's). */
function recording<H extends FileSystemEventHandler>(handler: H): H & { seen: FileSystemEvent[]; specific: string[] } {
  const seen: FileSystemEvent[] = [];
  const specific: string[] = [];
  const log = (type: string) => (): void => {
    specific.push(type);
  };
  return Object.assign(handler, {
    seen, specific,
    on_any_event: (event: FileSystemEvent): void => {
      seen.push(event);
    },
    on_created: log('created'), on_deleted: log('deleted'), on_modified: log('modified'), on_moved: log('moved'),
  });
}

describe('events', () => {
  it('carry watchdog\'s event_type and is_directory per class, are frozen, and print as watchdog\'s repr', () => {
    const cases: [FileSystemEvent, string, boolean][] = [
      [new FileCreatedEvent('/w/a'), EVENT_TYPE_CREATED, false], [new DirCreatedEvent('/w/d'), EVENT_TYPE_CREATED, true],
      [new FileDeletedEvent('/w/a'), EVENT_TYPE_DELETED, false], [new DirDeletedEvent('/w/d'), EVENT_TYPE_DELETED, true],
      [new FileModifiedEvent('/w/a'), EVENT_TYPE_MODIFIED, false], [new DirModifiedEvent('/w'), EVENT_TYPE_MODIFIED, true],
      [new FileMovedEvent('/w/a', '/w/b'), EVENT_TYPE_MOVED, false], [new DirMovedEvent('/w/d', '/w/e'), EVENT_TYPE_MOVED, true],
      [new FileClosedEvent('/w/a'), EVENT_TYPE_CLOSED, false], [new FileClosedNoWriteEvent('/w/a'), EVENT_TYPE_CLOSED_NO_WRITE, false],
      [new FileOpenedEvent('/w/a'), EVENT_TYPE_OPENED, false],
    ];
    for (const [event, type, dir] of cases) {
      expect([event.constructor.name, event.event_type, event.is_directory]).toEqual([event.constructor.name, type, dir]);
      expect(Object.isFrozen(event)).toBe(true);
    }
    expect(String(new FileMovedEvent('/w/a', "/w/it's", true))).toBe(
      `FileMovedEvent(src_path='/w/a', dest_path="/w/it's", event_type='moved', is_directory=False, is_synthetic=True)`,
    );
    expect(String(new DirCreatedEvent('/w/new\nline'))).toBe(
      `DirCreatedEvent(src_path='/w/new\\nline', dest_path='', event_type='created', is_directory=True, is_synthetic=False)`,
    );
    expect(new FileCreatedEvent('/a').equals(new FileCreatedEvent('/a'))).toBe(true);
    expect(new FileCreatedEvent('/a').equals(new DirCreatedEvent('/a'))).toBe(false);
    expect(new FileCreatedEvent('/a').equals(new FileCreatedEvent('/a', '', true))).toBe(false);
  });

  it('keep exact path bytes when they are given, and the UTF-8 of the string otherwise', () => {
    const raw = Buffer.from([0x2f, 0x77, 0x2f, 0x66, 0xe9]); // "/w/f\xe9"
    const event = new FileCreatedEvent('/w/f\ufffd', '', false, { src: raw });
    expect(event.src_path_bytes.equals(raw)).toBe(true);
    expect(new FileCreatedEvent('/w/é').src_path_bytes.equals(Buffer.from('/w/é'))).toBe(true);
  });
});

describe('FileSystemEventHandler.dispatch', () => {
  it('calls on_any_event, then on_<event_type>, for every event type', () => {
    const calls: string[] = [];
    class Handler extends FileSystemEventHandler {
      override on_any_event(event: FileSystemEvent): void { calls.push(`any ${event.event_type}`); }
      override on_created(): void { calls.push('created'); }
      override on_deleted(): void { calls.push('deleted'); }
      override on_modified(): void { calls.push('modified'); }
      override on_moved(): void { calls.push('moved'); }
      override on_closed(): void { calls.push('closed'); }
      override on_closed_no_write(): void { calls.push('closed_no_write'); }
      override on_opened(): void { calls.push('opened'); }
    }
    const handler = new Handler();
    for (const event of [new FileCreatedEvent('/a'), new FileDeletedEvent('/a'), new FileModifiedEvent('/a'), new FileMovedEvent('/a', '/b'),
      new FileClosedEvent('/a'), new FileClosedNoWriteEvent('/a'), new FileOpenedEvent('/a')]) {
      expect(handler.dispatch(event)).toBeUndefined(); // nothing asynchronous: no promise
    }
    expect(calls).toEqual([
      'any created', 'created', 'any deleted', 'deleted', 'any modified', 'modified', 'any moved', 'moved', 'any closed', 'closed',
      'any closed_no_write', 'closed_no_write', 'any opened', 'opened',
    ]);
  });

  it('returns a promise when a method is async, settled when both methods are', async () => {
    let finished = false;
    class Handler extends FileSystemEventHandler {
      override async on_created(): Promise<void> {
        await new Promise((resolve) => setImmediate(resolve));
        finished = true;
      }
    }
    const result = new Handler().dispatch(new FileCreatedEvent('/a'));
    expect(result).toBeInstanceOf(Promise);
    await result;
    expect(finished).toBe(true);
  });
});

describe('patterns (watchdog.utils.patterns)', () => {
  const pathnames = ['/users/gorakhargosh/foobar.py', '/var/cache/pdnsd.status', '/etc/pdnsd.conf', '/usr/local/bin/python'];

  it('watchdog: test_match_path, with watchdog 6 (`*.py`) and 7 (`**/*.py`) patterns', () => {
    const match = (path: string, include: string[], exclude: string[], caseSensitive: boolean): boolean =>
      match_any_paths([path], { included_patterns: include, excluded_patterns: exclude, case_sensitive: caseSensitive });
    expect(match('/users/gorakhargosh/foobar.py', ['*.py'], ['*.PY'], true)).toBe(true);
    expect(match('/users/gorakhargosh/foobar.py', ['**/*.py'], ['**/*.PY'], true)).toBe(true);
    expect(match('/users/gorakhargosh/', ['*.py'], ['*.txt'], false)).toBe(false);
    // Both included and excluded once case is folded: watchdog's ValueError, here a TypeError when compiling.
    expect(() => match('/users/gorakhargosh/foobar.py', ['*.py'], ['*.PY'], false)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('conflicting patterns') }),
    );
  });

  it('watchdog: test_filter_paths and test_match_any_paths', () => {
    expect(filter_paths(pathnames)).toEqual(pathnames);
    expect(filter_paths(pathnames, { case_sensitive: false })).toEqual(pathnames);
    for (const [include, exclude] of [[['*.py', '*.conf'], ['*.status']], [['**/*.py', '**/*.conf'], ['**/*.status']]]) {
      expect(filter_paths(pathnames, { included_patterns: include, excluded_patterns: exclude })).toEqual(['/users/gorakhargosh/foobar.py', '/etc/pdnsd.conf']);
    }
    expect(match_any_paths(pathnames)).toBe(true);
    expect(match_any_paths(pathnames, { included_patterns: ['**/*py', '**/*.conf'], excluded_patterns: ['**/*.status'] })).toBe(true);
    expect(match_any_paths(pathnames, { included_patterns: ['**/*.txt'], case_sensitive: false })).toBe(false);
    expect(match_any_paths(pathnames, { included_patterns: ['**/*.txt'], case_sensitive: true })).toBe(false);
  });

  it('follow pathlib: relative patterns match from the right, absolute ones the whole path, `*` stays in one part', () => {
    const ok = (path: string, pattern: string): boolean => match_any_paths([path], { included_patterns: [pattern] });
    expect(ok('/w/src/a.py', 'src/*.py')).toBe(true);
    expect(ok('/w/lib/a.py', 'src/*.py')).toBe(false);
    expect(ok('/w/src/a.py', '/w/*.py')).toBe(false); // absolute: the whole path
    expect(ok('/w/a.py', '/w/*.py')).toBe(true);
    expect(ok('/w/src/deep/a.py', 'src/*')).toBe(false); // `*` does not cross '/'
    expect(ok('/w/src/deep/a.py', 'src/**')).toBe(true);
    expect(ok('/w/src', 'src/**')).toBe(true); // `**` is zero parts too
    expect(ok('/w/src/deep/a.py', 'src/**/a.py')).toBe(true);
    expect(ok('/w/src/a.py', 'src/**/a.py')).toBe(true);
    expect(ok('/w/xa.py', '**/a.py')).toBe(false);
    expect(ok('/w/a1.log', 'a?.log')).toBe(true);
    expect(ok('/w/a12.log', 'a?.log')).toBe(false);
    expect(ok('/w/b.log', '[abc].log')).toBe(true);
    expect(ok('/w/b.log', '[!abc].log')).toBe(false);
    expect(ok('/w/{a,b}.c', '{a,b}.c')).toBe(true); // braces are literal, as in fnmatch
    expect(ok('/w/a.c', '{a,b}.c')).toBe(false);
    expect(ok('/w//src/./a.py', 'src/a.py')).toBe(true); // normalised as pathlib does
    expect(() => filter_paths(['/a'], { included_patterns: [''] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => filter_paths(['/a'], { included_patterns: [1 as unknown as string] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('PatternMatchingEventHandler', () => {
  for (const [version, patterns, ignore] of [['6', ['*.py', '*.txt'], ['*.pyc']], ['7', ['**/*.py', '**/*.txt'], ['**/*.pyc']]] as const) {
    it(`watchdog: test_dispatch (watchdog ${version} patterns), with and without ignore_directories`, () => {
      const all = dispatched(() => recording(new PatternMatchingEventHandler({ patterns: [...patterns], ignore_patterns: [...ignore] })));
      expect(all).toEqual(['dir_del_match', 'file_del_match', 'dir_cre_match', 'file_cre_match', 'dir_mod_match', 'file_mod_match', 'dir_mov_match', 'file_mov_match']);
      const noDirs = dispatched(() => recording(new PatternMatchingEventHandler({ patterns: [...patterns], ignore_patterns: [...ignore], ignore_directories: true })));
      expect(noDirs).toEqual(['file_del_match', 'file_cre_match', 'file_mod_match', 'file_mov_match']);
    });
  }

  it('watchdog: test_handler, test_patterns, test_ignore_patterns, test_ignore_directories (read-only options)', () => {
    const h1 = new PatternMatchingEventHandler({ patterns: ['*.py', '*.txt'], ignore_patterns: ['*.foo'], ignore_directories: true });
    const h2 = new PatternMatchingEventHandler({ patterns: ['*.py', '*.txt'], ignore_patterns: ['*.foo'] });
    expect(h1.patterns).toEqual(['*.py', '*.txt']);
    expect(h1.ignore_patterns).toEqual(['*.foo']);
    expect(h1.ignore_directories).toBe(true);
    expect(h2.ignore_directories).toBe(false);
    expect(h2.case_sensitive).toBe(false);
  });

  it('tests dest_path too: a move to a matching name is handled, a move to an ignored name is not', () => {
    const handler = recording(new PatternMatchingEventHandler({ patterns: ['*.py'], ignore_patterns: ['*.bak'] }));
    void handler.dispatch(new FileMovedEvent('/w/a.tmp', '/w/a.py'));
    void handler.dispatch(new FileMovedEvent('/w/a.py', '/w/a.bak')); // src selected, dest ignored: src still selects it
    void handler.dispatch(new FileMovedEvent('/w/a.tmp', '/w/a.bak'));
    expect(handler.seen.map((e) => e.dest_path)).toEqual(['/w/a.py', '/w/a.bak']);
  });

  it('case_sensitive: false (the default) folds case, true does not', () => {
    const insensitive = recording(new PatternMatchingEventHandler({ patterns: ['*.py'] }));
    const sensitive = recording(new PatternMatchingEventHandler({ patterns: ['*.py'], case_sensitive: true }));
    for (const handler of [insensitive, sensitive]) for (const path of ['/w/A.PY', '/w/b.py']) void handler.dispatch(new FileCreatedEvent(path));
    expect(insensitive.seen.map((e) => e.src_path)).toEqual(['/w/A.PY', '/w/b.py']);
    expect(sensitive.seen.map((e) => e.src_path)).toEqual(['/w/b.py']);
    // A pattern in both lists once folded: refused when the handler is made, not at the first event.
    expect(() => new PatternMatchingEventHandler({ patterns: ['*.py'], ignore_patterns: ['*.PY'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringContaining('options.patterns') }),
    );
    expect(() => new PatternMatchingEventHandler({ patterns: ['*.py'], ignore_patterns: ['*.PY'], case_sensitive: true })).not.toThrow();
  });
});

describe('RegexMatchingEventHandler', () => {
  it('watchdog: test_dispatch, with and without ignore_directories', () => {
        // re.match anchors at the start only: '.*\.py' also matches '/path/foobar.pyc', which '.*\.pyc' then ignores.
    const all = dispatched(() => recording(new RegexMatchingEventHandler({ regexes: ['.*\\.py', '.*\\.txt'], ignore_regexes: ['.*\\.pyc'] })));
    expect(all).toEqual(['dir_del_match', 'file_del_match', 'dir_cre_match', 'file_cre_match', 'dir_mod_match', 'file_mod_match', 'dir_mov_match', 'file_mov_match']);
    const noDirs = dispatched(() => recording(new RegexMatchingEventHandler({ regexes: ['.*\\.py', '.*\\.txt'], ignore_regexes: ['.*\\.pyc'], ignore_directories: true })));
    expect(noDirs).toEqual(['file_del_match', 'file_cre_match', 'file_mod_match', 'file_mov_match']);
  });

  it('watchdog: test_str_regexes, test_regexes, test_ignore_regexes (a string is one regex; compiled, case-insensitive by default)', () => {
    const one = new RegexMatchingEventHandler({ regexes: '.*\\.py', ignore_regexes: ['.*\\.pyc'] });
    expect(one.regexes.map((r) => r.source)).toEqual(['.*\\.py']);
    expect(one.regexes[0]?.flags).toContain('i');
    expect(one.ignore_regexes.map((r) => r.source)).toEqual(['.*\\.pyc']);
    const sensitive = new RegexMatchingEventHandler({ regexes: ['.*\\.py'], case_sensitive: true });
    expect(sensitive.regexes[0]?.flags).not.toContain('i');
  });

  it('matches at the start of the path only (re.match), accepts RegExps and Python\'s named groups', () => {
    const handler = recording(new RegexMatchingEventHandler({ regexes: ['log/', /(?<dir>\/srv)\/(?:\k<dir>)?/, '(?P<top>/data)/.*(?P=top)?\\.csv\\Z'], case_sensitive: true }));
    for (const path of ['/w/log/a', 'log/a', '/srv/x', '/data/a.csv', '/data/a.csv.bak', '/DATA/a.csv']) void handler.dispatch(new FileCreatedEvent(path));
    expect(handler.seen.map((e) => e.src_path)).toEqual(['log/a', '/srv/x', '/data/a.csv']);
    expect(() => new RegexMatchingEventHandler({ regexes: ['('] })).toThrow(SyntaxError);
    expect(() => new RegexMatchingEventHandler({ regexes: [42 as unknown as string] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('LoggingEventHandler', () => {
  it('watchdog: test_logging_event_handler_dispatch (its messages, to logger.info)', () => {
    const lines: string[] = [];
    const handler = new LoggingEventHandler({ logger: { info: (message) => lines.push(message) } });
    for (const event of [
      new DirModifiedEvent('/path/blah.py'), new FileModifiedEvent('/path/blah.txt'), new DirDeletedEvent('/path/d'),
      new FileDeletedEvent('/path/f'), new DirCreatedEvent('/path/d'), new FileCreatedEvent('/path/f'),
      new DirMovedEvent('/path/d', '/path/e'), new FileMovedEvent('/path/f', '/path/g'), new FileClosedEvent('/path/f'),
      new FileClosedNoWriteEvent('/path/f'), new FileOpenedEvent('/path/f'),
    ]) void handler.dispatch(event);
    expect(lines).toEqual([
      'Modified directory: /path/blah.py', 'Modified file: /path/blah.txt', 'Deleted directory: /path/d', 'Deleted file: /path/f',
      'Created directory: /path/d', 'Created file: /path/f', 'Moved directory: from /path/d to /path/e', 'Moved file: from /path/f to /path/g',
      'Closed modified file: /path/f', 'Closed read file: /path/f', 'Opened file: /path/f',
    ]);
  });
});
