/**
 * Which filesystem a path is on, and whether inotify can see everything
 * that happens there. inotify reports only changes made through this
 * machine's kernel: on a network or FUSE filesystem, writes made on the
 * server or by another client never become events.
 */
import { readFileSync, statfsSync, statSync } from 'node:fs';

/** statfs(2) `f_type` magic numbers (linux/magic.h) of filesystems whose changes can come from elsewhere. */
export const REMOTE_FS_TYPES: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x517b, 'smbfs'],
  [0x65735546, 'fuse'],
  [0x01021997, 'v9fs (9p)'],
  [0x00c36400, 'ceph'],
  [0x5346414f, 'afs'],
  [0x6b414653, 'kafs'],
  [0x47504653, 'gpfs'],
  [0x0bd00bd0, 'lustre'],
  [0x013111a8, 'ibrix'],
  [0x564c, 'ncpfs'],
  [0x7461636f, 'ocfs2'],
  [0x01161970, 'gfs2'],
]);

/** A few local filesystems by magic, for messages only. */
const LOCAL_FS_TYPES: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
  [0xf2f52010, 'f2fs'],
]);

/** What {@link fsKind} found. */
export interface FsKind {
  /** statfs `f_type`. */
  readonly type: number;
  /** A readable name: 'nfs', 'cifs', 'fuse.sshfs', 'ext4'..., or the magic in hex when unknown. */
  readonly name: string;
  /** True where changes made elsewhere (server, other clients, FUSE daemon) bypass this kernel's inotify. */
  readonly remote: boolean;
}

/** Names a filesystem type by its magic (`'0x…'` when unknown). */
export function fsTypeName(type: number): string {
  return REMOTE_FS_TYPES.get(type) ?? LOCAL_FS_TYPES.get(type) ?? `0x${type.toString(16)}`;
}

/**
 * The FUSE subtype ('sshfs', 'rclone'...) of the mount holding `path`, from
 * /proc/self/mountinfo: the mount with the same device number.
 */
function fuseSubtype(path: string): string | undefined {
  let dev: number;
  let mountinfo: string;
  try {
    dev = statSync(path).dev;
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  const wanted = `${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] !== wanted) continue;
    // After the optional fields comes '-', then the filesystem type ('fuse.sshfs').
    const fstype = fields[fields.indexOf('-') + 1];
    if (fstype?.startsWith('fuse.') === true) return fstype.slice(5);
  }
  return undefined;
}

/** The filesystem `path` is on (throws fs's error when `path` cannot be reached). */
export function fsKind(path: string): FsKind {
  const type = Number(statfsSync(path).type) >>> 0;
  const remote = REMOTE_FS_TYPES.has(type);
  let name = fsTypeName(type);
  if (name === 'fuse') {
    const subtype = fuseSubtype(path);
    if (subtype !== undefined) name = `fuse.${subtype}`;
  }
  return { type, name, remote };
}

/** The warning for a watched path on a remote or FUSE filesystem. */
export interface RemoteFsWarning extends Error {
  /** Always 'INOTIFY_REMOTE_FS'. */
  readonly code: 'INOTIFY_REMOTE_FS';
  /** The watched path. */
  readonly path: string;
  /** The filesystem, e.g. 'nfs' or 'fuse.sshfs'. */
  readonly fs: string;
}

/**
 * A warning (code `INOTIFY_REMOTE_FS`) when `path` is on a filesystem where
 * inotify sees only this machine's own changes; undefined otherwise, and
 * when the path cannot be examined (watching it reports that error itself).
 */
export function remoteFsWarning(path: string): RemoteFsWarning | undefined {
  let kind: FsKind;
  try {
    kind = fsKind(path);
  } catch {
    return undefined;
  }
  if (!kind.remote) return undefined;
  const warning = new Error(
    `${path} is on a ${kind.name} filesystem: inotify only sees changes made through this machine's kernel; ` +
    'files written on the server or by another client are not reported (see docs/RELIABILITY.md)',
  ) as Error & { code: string; path: string; fs: string };
  warning.name = 'RemoteFsWarning';
  warning.code = 'INOTIFY_REMOTE_FS';
  warning.path = path;
  warning.fs = kind.name;
  return warning as RemoteFsWarning;
}
