import type { BridgeSession } from "@mentra/bridge-client";

/**
 * Places a mark on `trackId` and waits until it played, for at most `timeoutMs`; a mark
 * that does not come back in time is an error naming what the bridge had received, so a
 * run never hangs on it.
 */
export async function markWithin(
  session: BridgeSession,
  trackId: number,
  name: string,
  timeoutMs: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    const outcome = await Promise.race([session.mark(name, { trackId }), late]);
    if (outcome !== "late") return;
    const status = await session.status().catch(() => undefined);
    throw new Error(
      `mark "${name}" on track ${trackId} not played within ${timeoutMs} ms (the bridge had taken ${status?.metadata.chunks_from_cloud ?? "?"} chunks from the cloud)`,
    );
  } finally {
    clearTimeout(timer);
  }
}
