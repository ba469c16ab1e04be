import { setMaxListeners } from "node:events";
import { BoundedAudioQueue } from "./bounded-audio-queue.js";
import { BridgeError, toBridgeError } from "./errors.js";
import { Listeners } from "./listeners.js";
import { type Playback, startPlayback } from "./playback.js";
import { type JoinRequest, toStatus } from "./rpc-calls.js";
import { type Call, createCallOpener, type InFrame } from "./session/call.js";
import { type Handover, playOut, spliceIn } from "./session/handover.js";
import { startLivenessProbes, startWatchdog } from "./session/liveness.js";
import { audioChunk, type OutChunk } from "./session/out-chunk.js";
import { createPendingControls } from "./session/pending-controls.js";
import { createReceiver } from "./session/receive.js";
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

  const receive = createReceiver(ctx, {
    handover: () => handover,
    startHandover: (reason) => startHandover(reason),
  });

  const openCall = createCallOpener({
    userId,
    statsIntervalMs: settings.statsIntervalMs,
    outgoing,
    signal: life.signal,
    receive,
    onActivity: () => {
      ctx.lastActivityAt = Date.now();
    },
    onEnded: (call) => {
      if (stream === call.controller) stream = undefined;
    },
  });

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
