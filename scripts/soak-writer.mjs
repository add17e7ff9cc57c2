// The soak's writer, a separate process so that it runs in parallel with the
// watcher: `cycles` create/modify/delete cycles over `files` names in `dir`,
// so the disk never holds more than `files` one-byte files. Each cycle makes
// exactly IN_CREATE, IN_MODIFY, IN_DELETE on the same name, in that order.
// Prints one JSON line with what it did.
// With a progress file, the cycles done so far are written there every 1024
// cycles and `done` at the end (the soak's stalls wait on it).
// Usage: node soak-writer.mjs <dir> <cycles> <files> [progress-file]
import * as fs from 'node:fs';
import * as path from 'node:path';

const [dir, cyclesText, filesText, progressFile] = process.argv.slice(2);
const cycles = Number(cyclesText);
const files = Number(filesText);
const names = Array.from({ length: files }, (_, i) => path.join(dir, `f${i}`));
const byte = Buffer.from('x');
const started = process.hrtime.bigint();
for (let i = 0; i < cycles; i++) {
  const name = names[i % files];
  const fd = fs.openSync(name, 'w'); // IN_CREATE
  fs.writeSync(fd, byte); // IN_MODIFY
  fs.closeSync(fd);
  fs.unlinkSync(name); // IN_DELETE
  if (progressFile !== undefined && (i & 1023) === 1023) fs.writeFileSync(progressFile, String(i + 1));
}
if (progressFile !== undefined) fs.writeFileSync(progressFile, 'done');
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(`${JSON.stringify({ cycles, events: cycles * 3, seconds })}\n`);
