import { BridgeError } from "../errors.js";
import type { Call, OpenCall } from "./call.js";
import { recover } from "./recovery.js";
import type { SessionContext } from "./session-context.js";
import type { SessionStateMachine } from "./session-state.js";

/** What {@link runStreamLoop} drives. */
export interface StreamLoopOptions {
  readonly machine: SessionStateMachine;
  readonly openCall: OpenCall;
  /** The session ends for good with this error (emits `disconnected` and closes). */
  readonly onFinal: (error: BridgeError) => void;
}

/**
 * Keeps the session's call open until the session closes: opens it, waits for it to end,
 * adopts the new call when a handover moved the session, reopens it after a refused
 * chunk, and recovers after a break; ends on errors retrying cannot fix.
 */
export async function runStreamLoop(ctx: SessionContext, options: StreamLoopOptions) {
  const { userId, settings, listeners, pending, signal } = ctx;
  const { machine, onFinal } = options;
  let adopted: Call | undefined;
  for (;;) {
    const call = adopted ?? options.openCall(ctx.target.client, ctx.lastSequence, true);
    adopted = undefined;
    machine.stream(call);
    const ended = await call.done;
    const moving = machine.handover;
    if (moving !== undefined) {
      // The old call ended as the session moved (or the old bridge ended it first):
      // go on with the new one.
      const next = await moving.result;
      if (next !== undefined && !signal.aborted) {
        adopted = next;
        continue;
      }
    }
    // Marks and clears the broken stream carried may never have reached the bridge:
    // send them again, first (a mark the bridge did get is answered once; a second
    // answer finds nothing pending).
    pending.resend();
    if (signal.aborted) return;
    const error =
      ended ?? new BridgeError("no-session", `the bridge ended the stream of user ${userId}`);
    if (error.kind === "replaced" || error.kind === "cancelled") {
      onFinal(error);
      return;
    }
    if (error.kind === "identity-taken" && !settings.recoverFromIdentityTaken) {
      onFinal(error);
      return;
    }
    if (error.kind === "invalid-argument") {
      // A chunk the bridge refused; the session itself is fine: report and go on.
      listeners.emit("error", error);
      continue;
    }
    if (!(await recover(ctx, error, onFinal))) return;
  }
}
