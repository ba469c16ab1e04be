/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long, default 10 000 ms. */
  timeoutMs?: number;
  /** Pause between checks, default 100 ms. */
  intervalMs?: number;
  /** What is awaited, for the timeout message, e.g. "bob to leave room-1". */
  description?: string;
}

/**
 * Checks `predicate` until it returns true, at most every `intervalMs` and
 * never past `timeoutMs` (a check that hangs is cut off too). A check that
 * throws counts as "not yet"; its last error ends up in the timeout message,
 * so waiting on a server that is still restarting reads well when it fails.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let checks = 0;
  let lastError: unknown;
  let timer: NodeJS.Timeout | undefined;
  try {
    while (true) {
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) break;
      checks++;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), remainingMs);
      });
      try {
        const result = await Promise.race([Promise.resolve().then(predicate), expired]);
        if (result === true) return;
        if (result === "expired") break;
        lastError = undefined;
      } catch (err) {
        lastError = err;
      }
      clearTimeout(timer);
      const pauseMs = Math.min(intervalMs, deadline - Date.now());
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    clearTimeout(timer);
  }
  const what = options.description ?? "condition";
  const why = lastError === undefined ? "" : `; last check threw: ${String(lastError)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${checks} checks)${why}`);
}
