// Preloaded into inotify-profile by scripts/stress.mjs (node --import): every
// write to stdout first spends STRESS_DELAY_MS of busy CPU, so the CLI's
// reader falls behind the writer, as behind a slow terminal or consumer.
const delayNs = BigInt(Math.round(Number(process.env.STRESS_DELAY_MS ?? 3) * 1e6));
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (...args) => {
  const until = process.hrtime.bigint() + delayNs;
  while (process.hrtime.bigint() < until) { /* deliberately slow */ }
  return write(...args);
};
