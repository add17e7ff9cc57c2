/**
 * Line output to stdout: batched into one write per turn of the event loop
 * (a burst of events is one syscall, not thousands), and a reader that goes
 * away (`| head -1`) ends the program quietly instead of crashing on EPIPE.
 */

/** Buffered line writer over a stream. */
export class LineOutput {
  readonly #stream: NodeJS.WritableStream;
  #lines: string[] = [];
  #scheduled = false;
  #broken = false;

  /**
   * @param onBroken called once when the reader has gone (EPIPE); nothing
   *   is written after that.
   */
  constructor(stream: NodeJS.WritableStream, onBroken: () => void, onError: (error: Error) => void) {
    this.#stream = stream;
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') {
        if (this.#broken) return;
        this.#broken = true;
        this.#lines = [];
        onBroken();
      } else {
        onError(error);
      }
    });
  }

  /** True once the reader has gone. */
  get broken(): boolean {
    return this.#broken;
  }

  /** Queues a line (without its newline); written at the end of this turn, or by {@link flush}. */
  line(text: string): void {
    if (this.#broken) return;
    this.#lines.push(text);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes every queued line now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#broken || this.#lines.length === 0) return;
    const text = `${this.#lines.join('\n')}\n`;
    this.#lines = [];
    this.#stream.write(text);
  }

  /** Flushes, then calls `done` once the stream has taken the data. */
  end(done: () => void): void {
    this.flush();
    if (this.#broken) {
      done();
      return;
    }
    // An empty write's callback runs after every earlier write completed.
    this.#stream.write('', () => done());
  }
}
