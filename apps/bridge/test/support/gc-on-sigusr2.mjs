// Preloaded (`node --expose-gc --import`) into a bridge process by a test: SIGUSR2 runs a
// full garbage collection, so the heap read next is what the process still holds, not
// garbage a lazy collector has not reached yet.
process.on("SIGUSR2", () => {
  globalThis.gc?.();
});
