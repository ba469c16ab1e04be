// Preloaded (`node --import`) into a bridge process by a test: SIGUSR2 makes it throw an
// uncaught exception, as a bug deep in a timer would, to check what a crash leaves behind.
process.on("SIGUSR2", () => {
  setImmediate(() => {
    throw new Error("induced crash (test): uncaught exception");
  });
});
