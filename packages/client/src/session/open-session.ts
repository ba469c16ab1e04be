import { BridgeError } from "../errors.js";
import { type Playback, startPlayback } from "../playback.js";
import { getStatus, type JoinRequest, stopAudio } from "../rpc-calls.js";
import { createCallOpener } from "./call.js";
import { type HandoverOptions, startHandover } from "./handover.js";
import { startLivenessProbes, startWatchdog } from "./liveness.js";
import { audioChunk } from "./out-chunk.js";
import { createReceiver } from "./receive.js";
import type { SessionRouting } from "./routing.js";
import { createSessionContext } from "./session-context.js";
import { createSessionState } from "./session-state.js";
import { runStreamLoop } from "./stream-loop.js";
import type { BridgeSession, SessionSettings } from "./types.js";

/**
 * Starts the session's stream loop after a successful JoinRoom. The session composes its
 * parts: the state machine (session-state.ts), its calls (call.ts), the bridge's messages
 * (receive.ts), marks and clears (pending-controls.ts), recovery (recovery.ts), liveness
 * probes and watchdog (liveness.ts) and handover (handover.ts); it has one close path.
 */
export function openSession(
  routing: SessionRouting,
  request: JoinRequest,
  settings: SessionSettings,
  onClosed: (session: BridgeSession) => void = () => {},
): BridgeSession {
  const { userId } = request;
  const machine = createSessionState();
  const ctx = createSessionContext(routing, request, settings, machine.signal);
  const { listeners, outgoing, incoming, pending } = ctx;
  const playbacks = new Set<Playback>();
  let closing: Promise<void> | undefined;

  const emitClosed = (error: BridgeError) => {
    listeners.emit("disconnected", error);
    void close(error, false);
  };
  const receive = createReceiver(ctx, {
    handover: () => machine.handover,
    startHandover: (reason) => startHandover(ctx, handovers, reason),
  });
  const openCall = createCallOpener({
    userId,
    statsIntervalMs: settings.statsIntervalMs,
    outgoing,
    signal: machine.signal,
    receive,
    onActivity: () => {
      ctx.lastActivityAt = Date.now();
    },
    onEnded: (call) => machine.callEnded(call),
  });
  const handovers: HandoverOptions = { machine, openCall, receive };
  const loop = runStreamLoop(ctx, { machine, openCall, onFinal: emitClosed });
  let livenessTimer = startLivenessProbes(ctx, () => machine.call?.controller);
  let watchdogTimer = startWatchdog(ctx, () => machine.call?.controller);

  /** The one close path: stops the timers, queues and calls, then releases the listeners. */
  async function close(reason: BridgeError, callLeave: boolean, leaveReason = ""): Promise<void> {
    closing ??= (async () => {
      machine.close(reason);
      if (watchdogTimer !== undefined) clearInterval(watchdogTimer);
      watchdogTimer = undefined;
      if (livenessTimer !== undefined) clearInterval(livenessTimer);
      livenessTimer = undefined;
      // Closed and cleared: the session ends now, nothing queued is delivered.
      outgoing.close();
      outgoing.clear();
      incoming.close();
      incoming.clear();
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

  const assertOpen = () => {
    if (machine.signal.aborted) throw new BridgeError("closed", `session of ${userId} is closed`);
  };
  const session: BridgeSession = {
    userId,
    audio: {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const next = await incoming.next();
          if (next.done === true) return;
          yield next.value;
        }
      },
    },
    mark(name, options = {}) {
      assertOpen();
      return pending.mark(options.trackId ?? 0, name);
    },
    clear(trackId = 0) {
      assertOpen();
      return pending.clear(trackId);
    },
    send(samples, options = {}) {
      assertOpen();
      outgoing.push(audioChunk(samples, options));
    },
    play(url, options = {}) {
      const playback = startPlayback(ctx.target.client, userId, url, options, machine.signal);
      playbacks.add(playback);
      // then(f, f), not finally(): a failed or cancelled playback must not leave a
      // rejected promise nobody handles.
      const forget = () => playbacks.delete(playback);
      playback.done.then(forget, forget);
      return playback;
    },
    stop(requestId = "", options = {}) {
      return stopAudio(ctx.target.client, userId, requestId, options.signal);
    },
    status(options = {}) {
      return getStatus(ctx.target.client, userId, options.signal);
    },
    leave(reason = "") {
      return close(new BridgeError("closed", `user ${userId} left`), true, reason);
    },
    rebalance() {
      if (machine.call === undefined || routing.pick().endpoint === ctx.target.endpoint) {
        return false;
      }
      return startHandover(ctx, handovers, "rebalance", false);
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
        sendDroppedMs: Math.round(outgoing.droppedWeight),
        receiveDroppedMs: Math.round(incoming.droppedWeight),
        sendQueuedMs: Math.round(outgoing.weight),
        lastSequence: ctx.lastSequence,
        resumeMissedChunks: ctx.counts.resumeMissedChunks,
        openResources:
          listeners.count() +
          (watchdogTimer === undefined ? 0 : 1) +
          (livenessTimer === undefined ? 0 : 1) +
          (machine.call === undefined ? 0 : 1) +
          playbacks.size +
          pending.size,
      };
    },
    get closed() {
      return machine.signal.aborted;
    },
  };
  return session;
}
