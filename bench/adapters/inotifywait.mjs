// Debian's inotifywait -m -r, wrapped: its stdout lines are timestamped when the
// chunk arrives. Ready is its own "Watches established." line on stderr.
import { spawn } from 'node:child_process';
import { runAdapter } from './common.mjs';

const EVENTS = 'create,delete,modify,attrib,close_write,moved_from,moved_to,delete_self,move_self';

runAdapter({
  start(ctx) {
    return new Promise((resolve, reject) => {
      const child = spawn('inotifywait', ['-m', '-r', '-e', EVENTS, '--format', '%e|%w%f', ctx.root], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        const t = Number(process.hrtime.bigint());
        out += chunk;
        let i;
        while ((i = out.indexOf('\n')) >= 0) {
          const line = out.slice(0, i);
          out = out.slice(i + 1);
          const bar = line.indexOf('|');
          ctx.record(line.slice(0, bar), line.slice(bar + 1), t);
        }
      });
      let err = '';
      let ready = false;
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk) => {
        err += chunk;
        if (!ready && err.includes('Watches established')) {
          ready = true;
          resolve({
            watchPid: child.pid,
            close: () =>
              new Promise((res) => {
                child.once('exit', res);
                child.kill('SIGTERM');
              }),
          });
        }
      });
      child.once('error', reject);
      child.once('exit', (code) => {
        if (!ready) reject(new Error(`inotifywait exited ${code}: ${err.trim()}`));
      });
    });
  },
});
