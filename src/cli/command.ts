/**
 * `-c CMD`: pyinotify runs the command with the shell once at start and
 * once per read batch. Here runs never overlap: a batch that arrives while
 * the command runs asks for one more run, and any number of such batches
 * share that one follow-up run.
 */
import { spawn } from 'node:child_process';

/** Runs one shell command, never two at once, coalescing requests made while it runs. */
export class CommandRunner {
  readonly command: string;
  readonly #log: (message: string) => void;
  readonly #warn: (message: string) => void;
  readonly #beforeRun: () => void;
  #running = false;
  #again = false;
  #runs = 0;
  #idle: Array<() => void> = [];

  /**
   * @param beforeRun called right before each run (to flush buffered output,
   *   which the command shares).
   */
  constructor(command: string, log: (message: string) => void, warn: (message: string) => void, beforeRun: () => void = () => {}) {
    this.command = command;
    this.#log = log;
    this.#warn = warn;
    this.#beforeRun = beforeRun;
  }

  /** How many runs started. */
  get runs(): number {
    return this.#runs;
  }

  /** Asks for a run: now when idle, otherwise once after the current one. */
  trigger(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#start();
  }

  /** Resolves when no run is going and none is pending. */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #start(): void {
    this.#running = true;
    this.#again = false;
    this.#runs++;
    const run = this.#runs;
    this.#beforeRun();
    this.#log(`run ${run}: ${this.command}`);
    // stdin is not the command's to read; stdout and stderr are shared, as in pyinotify.
    const child = spawn(this.command, { shell: true, stdio: ['ignore', 'inherit', 'inherit'] });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.#running = false;
      if (this.#again) {
        this.#start();
        return;
      }
      for (const resolve of this.#idle.splice(0)) resolve();
    };
    child.once('error', (error) => {
      this.#warn(`cannot run the command: ${error.message}`);
      finish();
    });
    child.once('exit', (code, signal) => {
      this.#log(`run ${run} ended: ${signal === null ? `exit status ${code}` : `signal ${signal}`}`);
      finish();
    });
  }
}
