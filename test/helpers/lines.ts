import * as fs from 'node:fs';

/**
 * The complete lines of a log file another process appends to ([] while it
 * does not exist): a line without its newline yet is left out, because a
 * read can see part of an append (the kernel copies a write that crosses a
 * page boundary one page at a time, and the file grows with each page).
 */
export function completeLines(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.pop(); // '' after the last newline, or a line still being written
  return lines.filter((line) => line !== '');
}
