import { sleep as sleepOrReject } from "@mentra/pcm";

/**
 * Resolves after `ms`, or at once (without rejecting) when `signal` aborts: the bench's
 * loops check their signal after each pause.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleepOrReject(ms, signal).catch(() => {});
}
