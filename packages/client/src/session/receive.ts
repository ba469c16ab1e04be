import type { AudioSessionResponse } from "@mentra/bridge-proto";
import { ParticipantEvent_Kind } from "@mentra/bridge-proto";
import { HANDOVER_MARK, toFrame } from "./call.js";
import type { SessionContext } from "./session-context.js";
import type { Handover } from "./session-state.js";

/** Room-audio frames kept for a handover to start from (frames are 10 ms or more). */
const RECENT_FRAMES = 4;

const PARTICIPANT_KINDS = {
  [ParticipantEvent_Kind.UNSPECIFIED]: undefined,
  [ParticipantEvent_Kind.JOINED]: "joined",
  [ParticipantEvent_Kind.LEFT]: "left",
  [ParticipantEvent_Kind.MUTED]: "muted",
  [ParticipantEvent_Kind.UNMUTED]: "unmuted",
} as const;

/** What {@link createReceiver} asks of the session's handover. */
export interface ReceiverOptions {
  /** The handover in progress, if any: until it switched, room audio goes to it. */
  readonly handover: () => Handover | undefined;
  /** The bridge drains: starts a handover; says whether the session moves. */
  readonly startHandover: (reason: string) => boolean;
}

/**
 * Returns the handler of the session's messages from the bridge: room audio to the
 * reader (or the handover's splicer), marks and clears to the pending controls, flow
 * feedback, participants and drains as events.
 */
export function createReceiver(
  ctx: SessionContext,
  options: ReceiverOptions,
): (response: AudioSessionResponse) => void {
  const { listeners, incoming, pending } = ctx;
  const { handover, startHandover } = options;
  return (response) => {
    const { message } = response;
    switch (message.case) {
      case "audio": {
        ctx.lastAudioAt = Date.now();
        ctx.lastSequence = Number(message.value.sequence);
        const frame = toFrame(message.value);
        const moving = handover();
        // The latest frames, from which a handover starts looking for the junction.
        ctx.recentAudio.push(frame);
        if (ctx.recentAudio.length > RECENT_FRAMES) ctx.recentAudio.shift();
        if (moving !== undefined && !moving.switched) moving.feedOld(frame);
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
  };
}
