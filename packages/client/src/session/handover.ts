import type { AudioSessionResponse } from "@mentra/bridge-proto";
import { BridgeError } from "../errors.js";
import type { SpliceFrame, StreamSplicer } from "../stream-splicer.js";
import { type Call, HANDOVER_MARK, type InFrame, toFrame } from "./call.js";

/** How long a handover waits for the old bridge to play out what it was sent. */
const HANDOVER_PLAYOUT_MS = 1_000;

/** A handover in progress (see the session's startHandover). */
export interface Handover {
  readonly splicer: StreamSplicer;
  /** Set once room audio comes from the new call. */
  switched: boolean;
  /** The new call, once switched to; undefined if the handover failed. */
  result: Promise<Call | undefined>;
  /** Where the old call's room audio goes until the switch. */
  feedOld: (frame: InFrame) => void;
}

/** Where {@link spliceIn} hands room audio and the session's other messages. */
export interface SpliceSink {
  /** Room audio for the session's reader, in order. */
  push(frame: SpliceFrame): void;
  /** The session's handling of every other message. */
  receive(response: AudioSessionResponse): void;
  /** The switch happened; the new call's last room-audio sequence, for resuming. */
  onSwitched(sequence: number): void;
  /** After this, the splicer gives up on content and places the junction by time... */
  readonly timeoutMs: number;
  /**
   * ... unless the old call still delivers audio content can place (not silence): a new
   * bridge that lags may yet catch up, and its late receive times would repeat or skip
   * audio. Then it waits until the old call ends, for at most this long in all.
   */
  readonly maxWaitMs: number;
}

/**
 * Feeds the new call's room audio to the splicer until it places the junction (or gives up
 * on content: after `timeoutMs`, or once the old call ends, or after `maxWaitMs`; see
 * {@link SpliceSink}), then switches room audio to the new call at once,
 * in the same turn, so no frame of the old one can slip in after the junction. Rejects if
 * the new call ends first.
 */
export function spliceIn(state: Handover, call: Call, old: Call, sink: SpliceSink): Promise<void> {
  const { splicer } = state;
  return new Promise<void>((resolve, reject) => {
    let newSequence = 0;
    let finished = false;
    let timedOut = false;
    let oldEnded = false;
    const finish = (frames: SpliceFrame[]) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(cap);
      state.switched = true;
      for (const frame of frames) sink.push(frame);
      sink.onSwitched(newSequence);
      call.onMessage = sink.receive;
      old.onMessage = (response) => {
        if (response.message.case !== "audio") sink.receive(response);
      };
      resolve();
    };
    const giveUp = () => finish(splicer.force());
    const timer = setTimeout(() => {
      timedOut = true;
      if (oldEnded || !splicer.placeable) giveUp();
    }, sink.timeoutMs);
    const cap = setTimeout(giveUp, Math.max(sink.timeoutMs, sink.maxWaitMs));
    void old.done.then(() => {
      oldEnded = true;
      if (timedOut) giveUp();
    });
    const deliver = (frames: SpliceFrame[]) => {
      if (splicer.method !== undefined) finish(frames);
      else for (const frame of frames) sink.push(frame);
    };
    state.feedOld = (frame) => deliver(splicer.pushOld(frame));
    call.onMessage = (response) => {
      if (response.message.case !== "audio") return;
      newSequence = Number(response.message.value.sequence);
      deliver(splicer.pushNew(toFrame(response.message.value)));
    };
    call.done.then((ended) => {
      if (finished) return;
      // Failed: nothing may switch to this call later (the old call ending, a timer).
      finished = true;
      clearTimeout(timer);
      clearTimeout(cap);
      reject(ended ?? new BridgeError("unavailable", "the new bridge ended the stream"));
    });
  });
}

/**
 * The old call sends what it has taken and then a mark per track; resolves once those
 * marks played out (everything it was sent has), or after {@link HANDOVER_PLAYOUT_MS}.
 * Its other messages go to `receive`; its room audio is dropped (the new call carries it).
 */
export function playOut(
  old: Call,
  receive: (response: AudioSessionResponse) => void,
): Promise<void> {
  const waiting = new Set(old.tracks);
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, HANDOVER_PLAYOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    old.onMessage = (response) => {
      const { message } = response;
      if (message.case === "audio") return;
      if (message.case === "markPlayed" && message.value.name === HANDOVER_MARK) {
        waiting.delete(message.value.trackId);
        if (waiting.size === 0) done();
        return;
      }
      receive(response);
    };
    old.done.then(done);
    if (waiting.size === 0) done();
    old.stopSending.abort();
  });
}
