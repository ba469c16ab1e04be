import { sleep } from "@mentra/pcm";
import { backoffDelay } from "../backoff.js";
import { type BridgeError, toBridgeError } from "../errors.js";
import { joinRoom, type SessionStatus, toStatus } from "../rpc-calls.js";
import type { SessionTarget } from "./routing.js";
import type { SessionContext } from "./session-context.js";

/**
 * Brings the session back after its stream broke: GetStatus first, JoinRoom only if the
 * bridge lost it. Resolves true once the session may open its stream again; false when it
 * closed meanwhile, or after `onFinal` for an error retrying cannot fix.
 */
export async function recover(
  ctx: SessionContext,
  error: BridgeError,
  onFinal: (error: BridgeError) => void,
): Promise<boolean> {
  const { userId, request, settings, routing, listeners, signal } = ctx;
  const bridges = createProbes(ctx);
  const started = Date.now();
  // A bridge that is gone (its process died: the stream broke and it refuses a probe)
  // is passed over at once: its users join their next-ranked bridge without the
  // backoff, which only serves a bridge that is still there.
  // Before each check: "full" backoff, "short" (half of it: the endpoint just checked
  // was down and another ranks next) or "none" (the bridge is gone).
  let wait: "full" | "short" | "none" =
    error.kind === "unavailable" && (await bridges.passOverIfGone(ctx.target)) ? "none" : "full";
  for (let attempt = 0; !signal.aborted; attempt++) {
    listeners.emit("reconnecting", { attempt: attempt + 1, error });
    // The user's best endpoint now: another one when this one is down, or a better
    // ranked one that came back or was added (users move only when they reconnect).
    const target = routing.pick();
    const previous = ctx.target;
    try {
      // Backoff with full jitter before every check, the first included: it gives a
      // bridge that lost its room (a LiveKit restart) time to rejoin by itself, so the
      // client does not race it with a JoinRoom of its own. One delay per check, at most
      // maxMs, so a restarted bridge is found within that (two delays in a row, as
      // before, let a check wait up to twice maxMs).
      const delay = backoffDelay(attempt, settings.backoff);
      if (wait !== "none") await sleep(wait === "full" ? delay : delay / 2, signal);
      wait = "full";
      ctx.target = target;
      let rejoined = false;
      let status: SessionStatus;
      try {
        status = toStatus(await bridges.probe(target.client));
      } catch (caught) {
        // No answer at all: the endpoint is down. Try the next-ranked at once.
        if (bridges.isDown(caught) && bridges.passOver(target.endpoint)) wait = "short";
        throw caught;
      }
      if (!status.connected || status.session !== "open") {
        const token = settings.getToken
          ? await settings.getToken(userId, request.roomName)
          : (request.token ?? "");
        await joinRoom(target.client, { ...request, token }, signal);
        rejoined = true;
        ctx.counts.rejoins++;
        // A new session on the bridge: its audio is numbered afresh, and marks and
        // clears sent to the old one will never be answered.
        ctx.lastSequence = 0;
        ctx.pending.drop("the bridge lost the session and it was joined again");
      }
      if (previous.endpoint !== target.endpoint) {
        // Moved to another bridge: the old one, if it still runs, lets go of the room.
        previous.client
          .leaveRoom({ userId, reason: "moved to another bridge" }, { timeoutMs: 1_000 })
          .catch(() => {});
      }
      ctx.counts.reconnects++;
      listeners.emit("reconnected", {
        attempts: attempt + 1,
        rejoined,
        downtimeMs: Date.now() - started,
      });
      return true;
    } catch (caught) {
      if (signal.aborted) return false;
      error = toBridgeError(caught);
      if (error.kind === "invalid-argument" || error.kind === "unauthenticated") {
        onFinal(error);
        return false;
      }
    }
  }
  return false;
}

/** Recovery's checks of a bridge: bounded probes, and passing a dead bridge over. */
function createProbes(ctx: SessionContext) {
  const { userId, settings, routing, signal } = ctx;
  // Calls made while recovering get a deadline, so a dead connection cannot stall them.
  // A bridge that takes longer than this to answer GetStatus is treated as down (and, with
  // several bridges, passed over), so a dead connection cannot hold recovery up.
  const recoveryTimeoutMs = Math.min(settings.livenessMs > 0 ? settings.livenessMs : 5_000, 1_500);

  /** GetStatus of the user on a bridge, bounded as recovery's calls are. */
  function probe(client: SessionTarget["client"]) {
    return client.getStatus({ userId }, { signal, timeoutMs: recoveryTimeoutMs });
  }

  /** The call failed because the endpoint did not answer (and not because we stopped). */
  function isDown(caught: unknown): boolean {
    return !signal.aborted && toBridgeError(caught).kind === "unavailable";
  }

  /** Marks `endpoint` down; says whether another endpoint now ranks first. */
  function passOver(endpoint: string): boolean {
    routing.markDown(endpoint);
    return routing.pick().endpoint !== endpoint;
  }

  /**
   * Probes a bridge at once; when it does not answer (unavailable) and another endpoint
   * ranks next, marks it down and says so.
   */
  async function passOverIfGone(target: SessionTarget): Promise<boolean> {
    if (!routing.hasAlternative(target.endpoint)) return false;
    try {
      await probe(target.client);
      return false;
    } catch (caught) {
      return isDown(caught) && passOver(target.endpoint);
    }
  }

  return { probe, isDown, passOver, passOverIfGone };
}
