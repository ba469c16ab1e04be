import type { MessageInitShape } from "@bufbuild/protobuf";
import { type AudioSessionResponseSchema, ParticipantEvent_Kind } from "@mentra/bridge-proto";
import type { CloudChunk } from "../session/cloud-chunk.js";
import type { SessionEvent } from "../session/session-events.js";

export type ResponseInit = MessageInitShape<typeof AudioSessionResponseSchema>;

const PARTICIPANT_KINDS = {
  joined: ParticipantEvent_Kind.JOINED,
  left: ParticipantEvent_Kind.LEFT,
  muted: ParticipantEvent_Kind.MUTED,
  unmuted: ParticipantEvent_Kind.UNMUTED,
} as const;

/** A session event as the AudioSession message that carries it. */
export function eventResponse(event: SessionEvent): ResponseInit {
  switch (event.type) {
    case "mark_played":
      return {
        message: {
          case: "markPlayed",
          value: { trackId: event.trackId, name: event.name, positionMs: BigInt(event.positionMs) },
        },
      };
    case "cleared":
      return {
        message: {
          case: "cleared",
          value: {
            trackId: event.trackId,
            playedMs: BigInt(event.playedMs),
            droppedMs: BigInt(event.droppedMs),
            marksDropped: [...event.marksDropped],
          },
        },
      };
    case "track_stats":
      return {
        message: {
          case: "trackStats",
          value: {
            trackId: event.trackId,
            queuedMs: BigInt(event.queuedMs),
            playedMs: BigInt(event.playedMs),
            clearedMs: BigInt(event.clearedMs),
            pendingMarks: event.pendingMarks,
          },
        },
      };
    case "draining":
      return {
        message: {
          case: "draining",
          value: { deadlineMs: BigInt(event.deadlineMs), reason: event.reason },
        },
      };
    case "participant":
      return {
        message: {
          case: "participant",
          value: {
            kind: PARTICIPANT_KINDS[event.kind],
            identity: event.identity,
            trackSid: event.trackSid,
          },
        },
      };
  }
}

/** Room audio as an AudioSession message (numbered, for resume). */
export function audioResponse(chunk: CloudChunk): ResponseInit {
  return {
    message: {
      case: "audio",
      value: {
        pcmData: chunk.pcm,
        sampleRate: chunk.sampleRate,
        channels: chunk.channels,
        sequence: BigInt(chunk.sequence),
        timestampMs: BigInt(chunk.timestampMs),
        participantIdentity: chunk.identity,
      },
    },
  };
}
