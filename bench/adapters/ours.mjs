// Loads OUR library from the built package (lib/, the CommonJS build).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const LIB_PATH = process.env.BENCH_OURS_LIB ?? fileURLToPath(new URL('../../lib/index.js', import.meta.url));
export const lib = createRequire(import.meta.url)(LIB_PATH);
