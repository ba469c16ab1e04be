import { setMaxListeners } from "node:events";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  type AudioSessionRequestSchema,
  type AudioSessionResponse,
  type LiveKitBridge,
  ParticipantEvent_Kind,
} from "@mentra/bridge-proto";
import { BoundedAudioQueue } from "./bounded-audio-queue.js";
import { BridgeError, toBridgeError } from "./errors.js";
import { Listeners } from "./listeners.js";
import { type Playback, startPlayback } from "./playback.js";
import { type JoinRequest, toStatus } from "./rpc-calls.js";
import { type Call, type InFrame, toFrame } from "./session/call.js";
import { HANDOVER_MARK, type Handover, playOut, spliceIn } from "./session/handover.js";
import { startLivenessProbes, startWatchdog } from "./session/liveness.js";
import { audioChunk, type OutChunk } from "./session/out-chunk.js";
import { createPendingControls } from "./session/pending-controls.js";
import { recover } from "./session/recovery.js";
import {
  joinOnAnsweringBridge,
  type SessionRouting,
  type SessionTarget,
} from "./session/routing.js";
import type { SessionContext } from "./session/session-context.js";
import type { BridgeSession, SessionEvents, SessionSettings } from "./session/types.js";
import { StreamSplicer } from "./stream-splicer.js";

/** Abort listeners a session's signal may hold before Node warns of a leak. */
const MAX_CONCURRENT_CALLS = 256;
/** Room-audio frames kept for a handover to start from (frames are 10 ms or more). */
const RECENT_FRAMES = 4;
type RequestInit = MessageInitShape<typeof AudioSessionRequestSchema>;

const PARTICIPANT_KINDS = {
  [ParticipantEvent_Kind.UNSPECIFIED]: undefined,
  [ParticipantEvent_Kind.JOINED]: "joined",
  [ParticipantEvent_Kind.LEFT]: "left",
  [ParticipantEvent_Kind.MUTED]: "muted",
  [ParticipantEvent_Kind.UNMUTED]: "unmuted",
} as const;

/** Starts the session's stream loop after a successful JoinRoom. */
export function openSession(
  routing: SessionRouting,
  request: JoinRequest,
  settings: SessionSettings,
  onClosed: (session: BridgeSession) => void = () => {},
): BridgeSession {
  const { userId } = request;
  const life = new AbortController();
  // Every in-flight call of the session (each playback, the stream, a status probe,
  // a backoff sleep) holds one abort listener on this signal and removes it when it
  // ends. A busy session legitimately has more than Node's default 10 at once.
  setMaxListeners(MAX_CONCURRENT_CALLS, life.signal);
  const outgoing = new BoundedAudioQueue<OutChunk>(settings.sendBufferMs);
  const listeners = new Listeners<SessionEvents>();
  const ctx: SessionContext = {
    userId,
    request,
    settings,
    routing,
    listeners,
    outgoing,
    incoming: new BoundedAudioQueue<InFrame>(settings.receiveBufferMs),
    pending: createPendingControls({
      outgoing,
      onMark: (outcome) => listeners.emit("mark", outcome),
    }),
    signal: life.signal,
    target: routing.pick(),
    lastSequence: 0,
    lastAudioAt: Date.now(),
    lastActivityAt: Date.now(),
    recentAudio: [],
    counts: { reconnects: 0, rejoins: 0, moves: 0, resumeMissedChunks: 0 },
  };
  const { incoming, pending } = ctx;
  const playbacks = new Set<Playback>();
  let stream: AbortController | undefined;
  let closing: Promise<void> | undefined;

  const emitClosed = (error: BridgeError) => {
    listeners.emit("disconnected", error);
    void close(error, false);
  };

  async function* requests(call: Call, resumeAfter: number): AsyncGenerator<RequestInit> {
    yield {
      message: {
        case: "start",
        value: {
          userId,
          settings: { statsIntervalMs: settings.statsIntervalMs },
          ...(resumeAfter > 0 ? { resumeAfterSequence: BigInt(resumeAfter) } : {}),
        },
      },
    };
    await call.sending;
    for (;;) {
      const item = await outgoing.next(call.stopSending.signal);
      if (item === undefined) break;
      if (item.kind !== "audio") {
        item.pending.sentOn = call.controller;
        yield item.kind === "mark"
          ? { message: { case: "mark", value: { trackId: item.trackId, name: item.name } } }
          : { message: { case: "clear", value: { trackId: item.trackId } } };
      } else {
        call.tracks.add(item.trackId);
        yield {
          message: {
            case: "audio",
            value: {
              pcmData: item.bytes,
              sampleRate: item.sampleRate,
              channels: item.channels,
              trackId: item.trackId,
            },
          },
        };
      }
    }
    // Handed over: a mark after the last audio of every track, answered once it played.
    if (call.controller.signal.aborted) return;
    for (const trackId of call.tracks) {
      yield { message: { case: "mark", value: { trackId, name: HANDOVER_MARK } } };
    }
  }

  /** Handles one message from the bridge. */
  function receive(response: AudioSessionResponse) {
    const { message } = response;
    switch (message.case) {
      case "audio": {
        ctx.lastAudioAt = Date.now();
        ctx.lastSequence = Number(message.value.sequence);
        const frame = toFrame(message.value);
        // The latest frames, from which a handover starts looking for the junction.
        ctx.recentAudio.push(frame);
        if (ctx.recentAudio.length > RECENT_FRAMES) ctx.recentAudio.shift();
        if (handover !== undefined && !handover.switched) handover.feedOld(frame);
        else incoming.push(frame);
        return;
      }
      case "markPlayed":
        if (message.value.name !== HANDOVER_MARK) pending.markPlayed(message.value);
        return;
      case "cleared":
        pending.cleared(message.value);
        return;
      case "trackStats": {
        const stats = message.value;
        listeners.emit("trackStats", {
          trackId: stats.trackId,
          queuedMs: Number(stats.queuedMs),
          playedMs: Number(stats.playedMs),
          clearedMs: Number(stats.clearedMs),
          pendingMarks: stats.pendingMarks,
        });
        return;
      }
      case "participant": {
        const kind = PARTICIPANT_KINDS[message.value.kind];
        if (kind !== undefined) {
          listeners.emit("participant", {
            kind,
            identity: message.value.identity,
            trackSid: message.value.trackSid,
          });
        }
        return;
      }
      case "resumed":
        ctx.counts.resumeMissedChunks += Number(message.value.missedChunks);
        return;
      case "draining":
        listeners.emit("draining", {
          deadlineMs: Number(message.value.deadlineMs),
          reason: message.value.reason,
          moving: startHandover(message.value.reason),
        });
        return;
      default:
        return;
    }
  }

  /**
   * Opens an AudioSession call on `client` and runs it until it ends (`done`, undefined for
   * OK). It takes from the send queue once `startSending()` is called (at once when
   * `sendNow`), until `stopSending` is aborted; what it receives goes to `onMessage`.
   */
  function openCall(
    client: Client<typeof LiveKitBridge>,
    resumeAfter: number,
    sendNow: boolean,
  ): Call {
    const controller = new AbortController();
    const stopSending = new AbortController();
    let startSending = () => {};
    const sending = sendNow
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          startSending = resolve;
        });
    const call: Call = {
      controller,
      stopSending,
      sending,
      startSending: () => startSending(),
      tracks: new Set(),
      onMessage: receive,
      done: Promise.resolve(undefined),
    };
    call.done = runCall(call, client, resumeAfter);
    return call;
  }

  async function runCall(
    call: Call,
    client: Client<typeof LiveKitBridge>,
    resumeAfter: number,
  ): Promise<BridgeError | undefined> {
    const { controller } = call;
    const onAbort = () => {
      // Ends a request generator still waiting to send, and the call with it.
      call.stopSending.abort();
      call.startSending();
    };
    const onLife = () => controller.abort(life.signal.reason);
    controller.signal.addEventListener("abort", onAbort, { once: true });
    life.signal.addEventListener("abort", onLife, { once: true });
    try {
      for await (const response of client.audioSession(requests(call, resumeAfter), {
        signal: controller.signal,
      })) {
        ctx.lastActivityAt = Date.now();
        call.onMessage(response);
      }
      return undefined;
    } catch (error) {
      const mapped = toBridgeError(error);
      // A server that dies resets its HTTP/2 streams with CANCEL, which Connect reports as
      // Canceled; only a cancellation of our own is final.
      if (mapped.kind === "cancelled" && !controller.signal.aborted) {
        return new BridgeError("unavailable", mapped.message, { code: mapped.code, cause: error });
      }
      return mapped;
    } finally {
      // Stops the request generator too, so it takes no more audio from the queue.
      controller.abort();
      controller.signal.removeEventListener("abort", onAbort);
      life.signal.removeEventListener("abort", onLife);
      if (stream === controller) stream = undefined;
    }
  }

  /**
   * The bridge drains: the session moves to the next-ranked bridge without a gap. The new
   * bridge joins beside the old one (a handover identity, so LiveKit keeps both); its room
   * audio is held until the splicer finds where it continues the old stream's, then the
   * session switches: room audio from the new stream, the old stream's last audio played
   * out (a mark per track) before the new bridge is sent any, and the old one leaves.
   */
  let handover: Handover | undefined;
  function startHandover(reason: string, fromIsLeaving = true): boolean {
    if (handover !== undefined || life.signal.aborted) return false;
    const from = ctx.target;
    const old = mainCall;
    if (fromIsLeaving) routing.markDown(from.endpoint);
    if (old === undefined || routing.pick().endpoint === from.endpoint) return false;
    const startedAt = Date.now();
    const splicer = new StreamSplicer();
    for (const frame of ctx.recentAudio) splicer.pushOld(frame);
    const state: Handover = {
      splicer,
      switched: false,
      result: Promise.resolve(undefined),
      // Until the new stream delivers, the old one's audio passes straight through.
      feedOld: (frame) => {
        for (const out of splicer.pushOld(frame)) incoming.push(out);
      },
    };
    handover = state;
    state.result = (async () => {
      let target: SessionTarget | undefined;
      let candidate: Call | undefined;
      try {
        const token = settings.getToken
          ? await settings.getToken(userId, request.roomName, { handover: true })
          : (request.token ?? "");
        // `from` is marked down, so this is the next-ranked bridge that answers.
        target = await joinOnAnsweringBridge(
          routing,
          { ...request, token, handover: true },
          life.signal,
        );
        if (target.endpoint === from.endpoint) {
          throw new BridgeError("unavailable", "no other bridge answers");
        }
        const opened = openCall(target.client, 0, false);
        candidate = opened;
        await spliceIn(state, opened, old, {
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
        pending.drop("the session moved to another bridge", old.controller);
        movedFrom
          .leaveRoom({ userId, reason: "moved to another bridge" }, { timeoutMs: 1_000 })
          .catch(() => {});
        ctx.counts.moves++;
        listeners.emit("moved", {
          from: from.endpoint,
          to: target.endpoint,
          reason,
          tookMs: Date.now() - startedAt,
          splice: state.splicer.method ?? "timestamps",
        });
        return opened;
      } catch (error) {
        // The old stream goes on alone: what the splicer held of it is handed out.
        for (const frame of splicer.abandon()) incoming.push(frame);
        if (handover === state) handover = undefined;
        candidate?.controller.abort();
        if (target !== undefined && target.endpoint !== from.endpoint) {
          target.client
            .leaveRoom({ userId, reason: "handover failed" }, { timeoutMs: 1_000 })
            .catch(() => {});
        }
        if (!life.signal.aborted) listeners.emit("error", toBridgeError(error));
        return undefined;
      }
    })();
    return true;
  }

  let mainCall: Call | undefined;
  const loop = (async () => {
    let adopted: Call | undefined;
    for (;;) {
      const call = adopted ?? openCall(ctx.target.client, ctx.lastSequence, true);
      adopted = undefined;
      mainCall = call;
      stream = call.controller;
      const ended = await call.done;
      if (handover !== undefined) {
        // The old call ended as the session moved (or the old bridge ended it first):
        // go on with the new one.
        const next = await handover.result;
        handover = undefined;
        if (next !== undefined && !life.signal.aborted) {
          adopted = next;
          continue;
        }
      }
      // Marks and clears the broken stream carried may never have reached the bridge:
      // send them again, first (a mark the bridge did get is answered once; a second
      // answer finds nothing pending).
      pending.resend();
      if (life.signal.aborted) return;
      const error =
        ended ?? new BridgeError("no-session", `the bridge ended the stream of user ${userId}`);
      if (error.kind === "replaced" || error.kind === "cancelled") {
        emitClosed(error);
        return;
      }
      if (error.kind === "identity-taken" && !settings.recoverFromIdentityTaken) {
        emitClosed(error);
        return;
      }
      if (error.kind === "invalid-argument") {
        // A chunk the bridge refused; the session itself is fine: report and go on.
        listeners.emit("error", error);
        continue;
      }
      if (!(await recover(ctx, error, emitClosed))) return;
    }
  })();

  let livenessTimer = startLivenessProbes(ctx, () => stream);
  let watchdogTimer = startWatchdog(ctx, () => stream);

  async function close(reason: BridgeError, callLeave: boolean, leaveReason = ""): Promise<void> {
    closing ??= (async () => {
      life.abort(reason);
      if (watchdogTimer !== undefined) clearInterval(watchdogTimer);
      watchdogTimer = undefined;
      if (livenessTimer !== undefined) clearInterval(livenessTimer);
      livenessTimer = undefined;
      outgoing.close();
      incoming.close();
      pending.drop("the session ended");
      for (const playback of playbacks) playback.cancel();
      await loop.catch(() => {});
      if (callLeave) {
        await ctx.target.client.leaveRoom({ userId, reason: leaveReason }).catch(() => {});
      }
      listeners.clear();
      onClosed(session);
    })();
    return closing;
  }

  const session: BridgeSession = {
    userId,
    audio: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const frame = await incoming.next();
          if (frame === undefined) return;
          yield frame;
        }
      },
    },
    mark(name, options = {}) {
      if (life.signal.aborted) throw new BridgeError("closed", `session of ${userId} is closed`);
      return pending.mark(options.trackId ?? 0, name);
    },
    clear(trackId = 0) {
      if (life.signal.aborted) throw new BridgeError("closed", `session of ${userId} is closed`);
      return pending.clear(trackId);
    },
    send(samples, options = {}) {
      if (life.signal.aborted) throw new BridgeError("closed", `session of ${userId} is closed`);
      outgoing.push(audioChunk(samples, options));
    },
    play(url, options = {}) {
      const playback = startPlayback(ctx.target.client, userId, url, options, life.signal);
      playbacks.add(playback);
      // then(f, f), not finally(): a failed or cancelled playback must not leave a
      // rejected promise nobody handles.
      const forget = () => playbacks.delete(playback);
      playback.done.then(forget, forget);
      return playback;
    },
    async stop(requestId = "", options = {}) {
      try {
        const response = await ctx.target.client.stopAudio(
          { userId, requestId },
          options.signal ? { signal: options.signal } : {},
        );
        if (!response.success) throw new BridgeError("invalid-argument", response.error);
        return response.stoppedRequestId;
      } catch (error) {
        throw toBridgeError(error);
      }
    },
    async status(options = {}) {
      try {
        return toStatus(
          await ctx.target.client.getStatus(
            { userId },
            options.signal ? { signal: options.signal } : {},
          ),
        );
      } catch (error) {
        throw toBridgeError(error);
      }
    },
    leave(reason = "") {
      return close(new BridgeError("closed", `user ${userId} left`), true, reason);
    },
    rebalance() {
      if (stream === undefined || routing.pick().endpoint === ctx.target.endpoint) return false;
      return startHandover("rebalance", false);
    },
    on(event, listener) {
      return listeners.on(event, listener);
    },
    stats() {
      return {
        reconnects: ctx.counts.reconnects,
        rejoins: ctx.counts.rejoins,
        moves: ctx.counts.moves,
        endpoint: ctx.target.endpoint,
        sendDroppedMs: Math.round(outgoing.droppedMs),
        receiveDroppedMs: Math.round(incoming.droppedMs),
        sendQueuedMs: Math.round(outgoing.durationMs),
        lastSequence: ctx.lastSequence,
        resumeMissedChunks: ctx.counts.resumeMissedChunks,
        openResources:
          listeners.count() +
          (watchdogTimer === undefined ? 0 : 1) +
          (livenessTimer === undefined ? 0 : 1) +
          (stream === undefined ? 0 : 1) +
          playbacks.size +
          pending.size,
      };
    },
    get closed() {
      return life.signal.aborted;
    },
  };
  return session;
}
