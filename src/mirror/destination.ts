/**
 * Where a mirror writes: a local directory or `[user@]host:path` over ssh.
 * rsync moves the data either way; renames and deletes run as a small sh
 * script, locally (`sh -s`) or on the host (`ssh host sh -s`), fed on stdin
 * so that names of any bytes (not UTF-8, newlines, leading '-') pass intact:
 * every argument in it is single-quoted (shell-quote.ts).
 */
import { Buffer } from 'node:buffer';
import * as nodePath from 'node:path';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { rsyncRshWord } from './shell-quote.js';

/** A parsed destination. */
export type Destination =
  | { readonly kind: 'local'; readonly root: string }
  | { readonly kind: 'ssh'; readonly host: string; readonly root: string; readonly ssh: readonly string[] };

/**
 * Parses a destination as rsync does: `host:path` or `user@host:path` when a
 * `:` comes before any `/`, a local path otherwise (write `./a:b` for a local
 * name with a colon). `ssh` is the ssh command as an argv (default `['ssh']`;
 * the user's ~/.ssh/config and keys apply). A remote path is absolute or
 * relative to the login directory; an empty one is the login directory.
 */
export function parseDestination(spec: string, ssh: readonly string[] = ['ssh']): Destination {
  if (typeof spec !== 'string') throw invalidArgType('destination', 'of type string', spec);
  if (spec === '' || spec.includes('\0')) throw invalidArgValue('destination', spec, 'must be a path or [user@]host:path');
  const colon = spec.indexOf(':');
  const slash = spec.indexOf('/');
  if (colon < 0 || (slash >= 0 && slash < colon)) return { kind: 'local', root: nodePath.resolve(spec) };
  const host = spec.slice(0, colon);
  if (host === '' || host.startsWith('-') || /\s/.test(host)) throw invalidArgValue('destination', spec, 'has no valid host before ":"');
  if (!Array.isArray(ssh) || ssh.length === 0 || ssh.some((arg) => typeof arg !== 'string')) {
    throw invalidArgType('options.ssh', 'a non-empty array of strings', ssh);
  }
  const path = spec.slice(colon + 1).replace(/(.)\/+$/, '$1');
  return { kind: 'ssh', host, root: path === '' ? '.' : path, ssh: [...ssh] };
}

/** The destination as rsync's target argument: `root/` or `host:root/`. */
export function rsyncTarget(dest: Destination): string {
  return dest.kind === 'local' ? `${dest.root}/` : `${dest.host}:${dest.root}/`;
}

/** rsync's `-e` for an ssh destination (each ssh argument quoted for rsync's own splitting), or none. */
export function rsyncShellArgs(dest: Destination): string[] {
  return dest.kind === 'ssh' ? ['-e', dest.ssh.map(rsyncRshWord).join(' ')] : [];
}

/** The argv that runs `sh -s` (a script on stdin) at the destination. */
export function shellArgv(dest: Destination): string[] {
  return dest.kind === 'local' ? ['sh', '-s'] : [...dest.ssh, '--', dest.host, 'sh -s'];
}

/** The destination root as bytes, for building paths in scripts. */
export function rootBytes(dest: Destination): Buffer {
  return Buffer.from(dest.root);
}

/** The destination for messages: the path, or host:path. */
export function describeDestination(dest: Destination): string {
  return dest.kind === 'local' ? dest.root : `${dest.host}:${dest.root}`;
}
