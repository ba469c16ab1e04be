import type { Client } from "@connectrpc/connect";
import type { LiveKitBridge } from "@mentra/bridge-proto";
import { toBridgeError } from "../errors.js";
import { type JoinRequest, joinRoom } from "../rpc-calls.js";

/** Where a session's calls go: one bridge, or the user's bridge among several. */
export interface SessionRouting {
  /** The endpoint to use now, and its client. */
  pick(): { readonly endpoint: string; readonly client: Client<typeof LiveKitBridge> };
  /** The endpoint did not answer: pass it over for a while. */
  markDown(endpoint: string): void;
  /** Whether there is an endpoint other than this one to go to. */
  hasAlternative(endpoint: string): boolean;
}

/** A bridge endpoint and its client. */
export type SessionTarget = ReturnType<SessionRouting["pick"]>;

/**
 * Joins on the best endpoint that answers: one that does not (unavailable) is passed over
 * for the next-ranked, until every endpoint was tried. Returns where it joined.
 */
export async function joinOnAnsweringBridge(
  routing: SessionRouting,
  request: JoinRequest,
  signal: AbortSignal | undefined,
): Promise<SessionTarget> {
  const tried = new Set<string>();
  for (let target = routing.pick(); ; target = routing.pick()) {
    tried.add(target.endpoint);
    try {
      await joinRoom(target.client, request, signal);
      return target;
    } catch (error) {
      const failure = toBridgeError(error);
      if (failure.kind !== "unavailable") throw failure;
      routing.markDown(target.endpoint);
      if (tried.has(routing.pick().endpoint)) throw failure;
    }
  }
}
