/** Durations in milliseconds, given as a number or a string such as '5s', '250ms', '1m30s'. */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds, or a string of number+unit parts ('1.5s', '2m', '1h30m', '250ms'). */
export type Duration = number | string;

/**
 * Parses a {@link Duration} to milliseconds. Throws a RangeError with
 * `code: 'ERR_INVALID_ARG_VALUE'` naming `name` for anything else
 * (negative, NaN, an unknown unit).
 */
export function parseDuration(value: unknown, name: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else if (typeof value === 'string') {
    const text = value.trim();
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
    let total = 0;
    let end = 0;
    let match: RegExpExecArray | null;
    while ((match = re.exec(text)) !== null) {
      total += Number(match[1]) * (UNITS[match[2] ?? 'ms'] ?? 1);
      end = re.lastIndex;
    }
    if (text !== '' && end === text.length) return total;
  }
  const error = new RangeError(
    `The "${name}" option must be a number of milliseconds >= 0 or a duration string such as '5s', '250ms' or '1m30s'. Received ${JSON.stringify(value) ?? String(value)}`,
  ) as RangeError & { code: string };
  error.code = 'ERR_INVALID_ARG_VALUE';
  throw error;
}
