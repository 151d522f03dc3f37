/**
 * `node --expose-gc --import scripts/harness/gc-on-signal.mjs ...`: on SIGUSR2 the process
 * collects garbage and prints `{"harness":"gc"}`, so a benchmark can measure the heap of a
 * real control server after collection without the product offering a GC switch.
 */
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  process.stdout.write('{"harness":"gc"}\n');
});
