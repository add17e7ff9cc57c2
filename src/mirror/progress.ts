/** Progress of a reconcile: files and bytes done out of a total, with a rate and an ETA. */

/** One progress reading of a {@link Mirror}'s reconcile. */
export interface MirrorProgress {
  /** Files sent so far, and to send in all (from rsync's dry run). */
  readonly files: { readonly done: number; readonly total: number };
  /** Bytes sent so far, and to send in all. */
  readonly bytes: { readonly done: number; readonly total: number };
  /** Bytes per second since the transfer began (0 until something was sent). */
  readonly rate: number;
  /** Seconds left at that rate; undefined while the rate is unknown. */
  readonly eta: number | undefined;
  /** Milliseconds since the transfer began. */
  readonly elapsed: number;
}

/** Turns rsync's running counts into {@link MirrorProgress} readings. */
export class ProgressMeter {
  readonly #started: number;
  readonly #totalFiles: number;
  readonly #totalBytes: number;
  #files = 0;
  #bytes = 0;

  constructor(totalFiles: number, totalBytes: number, now = Date.now()) {
    this.#totalFiles = totalFiles;
    this.#totalBytes = totalBytes;
    this.#started = now;
  }

  /** Records rsync's latest counts (they only grow; totals cap them). */
  update(files: number, bytes: number): void {
    this.#files = Math.min(Math.max(this.#files, files), this.#totalFiles);
    this.#bytes = Math.min(Math.max(this.#bytes, bytes), this.#totalBytes);
  }

  /** Marks everything done (rsync succeeded). */
  finish(): void {
    this.#files = this.#totalFiles;
    this.#bytes = this.#totalBytes;
  }

  /** The reading now. */
  snapshot(now = Date.now()): MirrorProgress {
    const elapsed = Math.max(0, now - this.#started);
    const rate = elapsed > 0 ? (this.#bytes * 1000) / elapsed : 0;
    const left = this.#totalBytes - this.#bytes;
    return {
      files: { done: this.#files, total: this.#totalFiles },
      bytes: { done: this.#bytes, total: this.#totalBytes },
      rate,
      eta: left === 0 ? 0 : rate > 0 ? left / rate : undefined,
      elapsed,
    };
  }
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` -> `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `75` -> `1:15`, `3725` -> `1:02:05`. */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** One line: `files 12/40  bytes 1.5 MiB/3.0 MiB  2.0 MiB/s  ETA 0:01`. */
export function formatProgress(p: MirrorProgress): string {
  const eta = p.eta === undefined ? '--:--' : formatDuration(p.eta);
  return `files ${p.files.done}/${p.files.total}  bytes ${formatBytes(p.bytes.done)}/${formatBytes(p.bytes.total)}  `
    + `${formatBytes(Math.round(p.rate))}/s  ETA ${eta}`;
}
