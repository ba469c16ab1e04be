import type { AudioSessionResponse } from "@mentra/bridge-proto";
import { BridgeError, toBridgeError } from "../errors.js";
import { type SpliceFrame, StreamSplicer } from "../stream-splicer.js";
import { type Call, HANDOVER_MARK, type OpenCall, toFrame } from "./call.js";
import { joinOnAnsweringBridge, type SessionTarget } from "./routing.js";
import type { SessionContext } from "./session-context.js";
import type { Handover, SessionStateMachine } from "./session-state.js";

/** How long a handover waits for the old bridge to play out what it was sent. */
const HANDOVER_PLAYOUT_MS = 1_000;

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

/** What {@link startHandover} needs of the session besides its context. */
export interface HandoverOptions {
  readonly machine: SessionStateMachine;
  readonly openCall: OpenCall;
  /** The session's handling of the bridge's messages. */
  readonly receive: (response: AudioSessionResponse) => void;
}

/**
 * The bridge drains: the session moves to the next-ranked bridge without a gap. The new
 * bridge joins beside the old one (a handover identity, so LiveKit keeps both); its room
 * audio is held until the splicer finds where it continues the old stream's, then the
 * session switches: room audio from the new stream, the old stream's last audio played
 * out (a mark per track) before the new bridge is sent any, and the old one leaves.
 * Returns whether a move started (only while streaming, and with another bridge to go
 * to); the loop adopts the new call from `handover.result` once the old one ended.
 */
export function startHandover(
  ctx: SessionContext,
  options: HandoverOptions,
  reason: string,
  fromIsLeaving = true,
): boolean {
  const { routing, incoming } = ctx;
  const { machine } = options;
  const old = machine.state.name === "streaming" ? machine.call : undefined;
  if (old === undefined) return false;
  const from = ctx.target;
  if (fromIsLeaving) routing.markDown(from.endpoint);
  if (routing.pick().endpoint === from.endpoint) return false;
  const splicer = new StreamSplicer();
  for (const frame of ctx.recentAudio) splicer.pushOld(frame);
  const handover: Handover = {
    splicer,
    switched: false,
    result: Promise.resolve(undefined),
    // Until the new stream delivers, the old one's audio passes straight through.
    feedOld: (frame) => {
      for (const out of splicer.pushOld(frame)) incoming.push(out);
    },
  };
  machine.handOver(handover);
  handover.result = move(ctx, options, handover, old, from, reason);
  return true;
}

/** Runs a handover from `old` on `from`; resolves the new call, or undefined if it failed. */
async function move(
  ctx: SessionContext,
  options: HandoverOptions,
  handover: Handover,
  old: Call,
  from: SessionTarget,
  reason: string,
): Promise<Call | undefined> {
  const { userId, request, settings, routing, listeners, incoming, signal } = ctx;
  const { receive } = options;
  const startedAt = Date.now();
  let target: SessionTarget | undefined;
  let candidate: Call | undefined;
  try {
    const token = settings.getToken
      ? await settings.getToken(userId, request.roomName, { handover: true })
      : (request.token ?? "");
    // `from` is marked down, so this is the next-ranked bridge that answers.
    target = await joinOnAnsweringBridge(routing, { ...request, token, handover: true }, signal);
    if (target.endpoint === from.endpoint) {
      throw new BridgeError("unavailable", "no other bridge answers");
    }
    const opened = options.openCall(target.client, 0, false);
    candidate = opened;
    await spliceIn(handover, opened, old, {
      push: (frame) => incoming.push(frame),
      receive,
      onSwitched: (sequence) => {
        ctx.lastSequence = sequence;
      },
      timeoutMs: settings.spliceTimeoutMs ?? 5_000,
      maxWaitMs: 3 * (settings.spliceTimeoutMs ?? 5_000),
    });
    const movedFrom = from.client;
    ctx.target = target;
    await playOut(old, receive);
    opened.startSending();
    old.controller.abort(new BridgeError("cancelled", "the session moved to another bridge"));
    // Marks the old bridge could not answer in time will not be answered now.
    ctx.pending.drop("the session moved to another bridge", old.controller);
    movedFrom
      .leaveRoom({ userId, reason: "moved to another bridge" }, { timeoutMs: 1_000 })
      .catch(() => {});
    ctx.counts.moves++;
    listeners.emit("moved", {
      from: from.endpoint,
      to: target.endpoint,
      reason,
      tookMs: Date.now() - startedAt,
      splice: handover.splicer.method ?? "timestamps",
    });
    return opened;
  } catch (error) {
    // The old stream goes on alone: what the splicer held of it is handed out.
    for (const frame of handover.splicer.abandon()) incoming.push(frame);
    options.machine.handoverFailed(handover);
    candidate?.controller.abort();
    if (target !== undefined && target.endpoint !== from.endpoint) {
      target.client
        .leaveRoom({ userId, reason: "handover failed" }, { timeoutMs: 1_000 })
        .catch(() => {});
    }
    if (!signal.aborted) listeners.emit("error", toBridgeError(error));
    return undefined;
  }
}
