import { setMaxListeners } from "node:events";
import type { BridgeError } from "../errors.js";
import type { StreamSplicer } from "../stream-splicer.js";
import type { Call, InFrame } from "./call.js";

/** Abort listeners a session's signal may hold before Node warns of a leak. */
const MAX_CONCURRENT_CALLS = 256;

/** A handover in progress (see startHandover in handover.ts). */
export interface Handover {
  readonly splicer: StreamSplicer;
  /** Set once room audio comes from the new call. */
  switched: boolean;
  /** The new call, once switched to; undefined if the handover failed. */
  result: Promise<Call | undefined>;
  /** Where the old call's room audio goes until the switch. */
  feedOld: (frame: InFrame) => void;
}

/**
 * Where a session is in its life. `call` is the session's own AudioSession call while it
 * is open (a handover's new call becomes it once the session moved).
 */
export type SessionState =
  /** The call is open and carries the session. */
  | { readonly name: "streaming"; readonly call: Call }
  /** The session moves to another bridge; `call` is the old one until it has ended. */
  | { readonly name: "handing-over"; readonly call: Call | undefined; readonly handover: Handover }
  /** No call is open: the stream is being (re)opened, with backoff, probes and a re-join. */
  | { readonly name: "recovering" }
  /** Ended for good (left, replaced, an error retrying cannot fix); `call` until it ended. */
  | { readonly name: "closed"; readonly reason: BridgeError; readonly call: Call | undefined };

/**
 * A session's state and its transitions, in one place: recovering → streaming (a call
 * opened) → recovering (it ended) or → handing-over (a drain or rebalance) → streaming
 * (the new call adopted) or back (the handover failed); any → closed.
 */
export interface SessionStateMachine {
  readonly state: SessionState;
  /** Aborted on entering `closed`: every call, sleep, probe and playback ends with it. */
  readonly signal: AbortSignal;
  /** The session's open call, if any (none while recovering, nor once it ended). */
  readonly call: Call | undefined;
  /** The handover in progress, if any. */
  readonly handover: Handover | undefined;
  /** The session opened its call, or adopted the call a handover moved it to. */
  stream(call: Call): void;
  /** A call ended; only the session's own call changes the state. */
  callEnded(call: Call): void;
  /** Starts moving the session: streaming → handing-over. False unless streaming. */
  handOver(handover: Handover): boolean;
  /** The handover failed: back to streaming on the old call, or recovering if it ended. */
  handoverFailed(handover: Handover): void;
  /** Ends the session; false if it was closed already. */
  close(reason: BridgeError): boolean;
}

/** A session's state machine, starting in `recovering` (no call is open yet). */
export function createSessionState(): SessionStateMachine {
  const life = new AbortController();
  // Every in-flight call of the session (each playback, the stream, a status probe,
  // a backoff sleep) holds one abort listener on this signal and removes it when it
  // ends. A busy session legitimately has more than Node's default 10 at once.
  setMaxListeners(MAX_CONCURRENT_CALLS, life.signal);
  let state: SessionState = { name: "recovering" };
  return {
    get state() {
      return state;
    },
    signal: life.signal,
    get call() {
      return state.name === "recovering" ? undefined : state.call;
    },
    get handover() {
      return state.name === "handing-over" ? state.handover : undefined;
    },
    stream(call) {
      state = state.name === "closed" ? { ...state, call } : { name: "streaming", call };
    },
    callEnded(call) {
      if (state.name === "recovering" || state.call !== call) return;
      if (state.name === "streaming") state = { name: "recovering" };
      else state = { ...state, call: undefined };
    },
    handOver(handover) {
      if (state.name !== "streaming") return false;
      state = { name: "handing-over", call: state.call, handover };
      return true;
    },
    handoverFailed(handover) {
      if (state.name !== "handing-over" || state.handover !== handover) return;
      state =
        state.call === undefined ? { name: "recovering" } : { name: "streaming", call: state.call };
    },
    close(reason) {
      if (state.name === "closed") return false;
      state = {
        name: "closed",
        reason,
        call: state.name === "recovering" ? undefined : state.call,
      };
      life.abort(reason);
      return true;
    },
  };
}
