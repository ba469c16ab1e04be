import type { FetchLimits } from "../../src/playback/fetch-audio.js";

/** Download limits for tests: 300 ms to connect and between bytes, 2 s in all, 10 kB, 3 redirects. */
export const TEST_FETCH_LIMITS: FetchLimits = {
  connectTimeoutMs: 300,
  idleTimeoutMs: 300,
  totalTimeoutMs: 2_000,
  maxBytes: 10_000,
  maxRedirects: 3,
};
