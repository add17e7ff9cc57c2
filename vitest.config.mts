import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // Generous: a test waits for events, not for a clock, and a loaded 2-core
    // machine (tsc, rsync, child processes) can be slow.
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
