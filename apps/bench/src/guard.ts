import { BridgeError } from "@mentra/bridge-client";

/**
 * Keeps a run alive through two known teardown errors that are not the bridge's:
 * - the client's `session.play()` chains `done.finally(…)` without a catch, so a playback
 *   cancelled by leave() rejects unhandled (BridgeError cancelled/closed);
 * - rtc-node (in this load generator) throws "trying to drop an invalid handle" from a
 *   finalizer when a room that failed to connect under overload is collected.
 * Anything else still crashes the run as usual.
 */
export function guardKnownTeardownErrors(say: (line: string) => void): void {
  process.on("unhandledRejection", (reason) => {
    if (
      reason instanceof BridgeError &&
      (reason.kind === "cancelled" || reason.kind === "closed")
    ) {
      return;
    }
    throw reason;
  });
  process.on("uncaughtException", (error) => {
    if (String(error?.message).includes("invalid handle")) {
      say(`ignored an rtc-node error in the load generator: ${error.message}`);
      return;
    }
    process.stderr.write(`${error?.stack ?? String(error)}\n`);
    process.exit(1);
  });
}
