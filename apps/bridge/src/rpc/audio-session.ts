import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type AudioSessionRequest,
  type AudioSessionResponseSchema,
  type AudioSessionSettings,
  ParticipantEvent_Kind,
} from "@mentra/bridge-proto";
import { validateTrackId } from "../audio/pcm.js";
import type { Logger } from "../logger.js";
import type { CloudChunk } from "../session/cloud-chunk.js";
import type { SessionRegistry } from "../session/registry.js";
import type { Session } from "../session/session.js";
import { noSession, SessionError } from "../session/session-errors.js";
import type { SessionEvent } from "../session/session-events.js";
import { checkCloudAudio } from "./cloud-audio.js";
import { invalid, toConnectError } from "./errors.js";
import { optionalFrameMs, optionalSampleRate, requireId } from "./fields.js";
import { OutputMailbox } from "./output-mailbox.js";

type ResponseInit = MessageInitShape<typeof AudioSessionResponseSchema>;

/** Options of {@link createAudioSession}. */
export interface AudioSessionOptions {
  readonly registry: SessionRegistry;
  /** Largest pcm_data accepted in one message. */
  readonly maxChunkBytes: number;
  readonly logger: Logger;
}

const PARTICIPANT_KINDS = {
  joined: ParticipantEvent_Kind.JOINED,
  left: ParticipantEvent_Kind.LEFT,
  muted: ParticipantEvent_Kind.MUTED,
  unmuted: ParticipantEvent_Kind.UNMUTED,
} as const;

/** Checks settings; returns what to apply (zero fields keep the current values). */
function checkSettings(settings: AudioSessionSettings | undefined) {
  const rate = optionalSampleRate("settings.receive_sample_rate", settings?.receiveSampleRate ?? 0);
  const frameMs = optionalFrameMs("settings.receive_frame_ms", settings?.receiveFrameMs ?? 0);
  return { rate, frameMs, statsIntervalMs: settings?.statsIntervalMs ?? 0 };
}

/** Applies receive settings to the session; zero fields keep what it has. */
function applySettings(session: Session, settings: ReturnType<typeof checkSettings>) {
  if (settings.rate !== 0 || settings.frameMs !== 0) {
    const current = session.receiveFormat;
    session.setReceiveFormat({
      sampleRate: settings.rate || current.sampleRate,
      frameMs: settings.frameMs || current.frameMs,
    });
  }
  if (settings.statsIntervalMs !== 0) session.setStatsInterval(settings.statsIntervalMs);
}

function toResponse(event: SessionEvent): ResponseInit {
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

function audioResponse(chunk: CloudChunk): ResponseInit {
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

/**
 * AudioSession: the first message is `start` (InvalidArgument otherwise; no session:
 * FailedPrecondition). Cloud audio, marks, clears and settings are applied in order;
 * room audio (numbered), marks played, clears, track stats and participant events come
 * back. Ends like StreamAudio: replaced (Aborted), room lost (Unavailable or Aborted),
 * session left (OK), or the first bad message (InvalidArgument); the session outlives the
 * call for the grace period, and a call that starts with `resume_after_sequence` gets
 * what the broken one missed.
 */
export function createAudioSession(options: AudioSessionOptions) {
  const { registry, maxChunkBytes, logger } = options;
  return async function* audioSession(
    requests: AsyncIterable<AudioSessionRequest>,
    context: HandlerContext,
  ): AsyncGenerator<ResponseInit> {
    const input = requests[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done === true) return;
    const opening = first.value.message;
    if (opening.case !== "start") {
      throw invalid("the first AudioSessionRequest must be start, with user_id");
    }
    const userId = requireId("start.user_id", opening.value.userId);
    const settings = checkSettings(opening.value.settings);
    const session = registry.get(userId);
    if (session === undefined) throw noSession(userId);
    const resumeAfter = opening.value.resumeAfterSequence;
    const out = new OutputMailbox();
    const attachment = session.attachStream({
      onEvent: (event) => out.event(event),
      ...(settings.statsIntervalMs === 0 ? {} : { statsIntervalMs: settings.statsIntervalMs }),
      ...(resumeAfter === undefined ? {} : { resumeAfter: Number(resumeAfter) }),
    });
    applySettings(session, { ...settings, statsIntervalMs: 0 });
    const onClientGone = () => attachment.detach();
    context.signal.addEventListener("abort", onClientGone);
    let stopped = false;

    // Cloud → room: every message in order; the first bad one ends the call.
    void (async () => {
      for (;;) {
        const next = await input.next();
        if (next.done === true || stopped) return;
        const { message } = next.value;
        switch (message.case) {
          case "audio": {
            const audio = checkCloudAudio(message.value, maxChunkBytes);
            await session.writeAudio(
              audio.trackId,
              audio.samples,
              audio.sampleRate,
              audio.channels,
            );
            break;
          }
          case "mark":
            session.mark(
              validateTrackId(message.value.trackId),
              requireId("mark.name", message.value.name),
            );
            break;
          case "clear":
            out.event(session.clear(validateTrackId(message.value.trackId)));
            break;
          case "settings":
            applySettings(session, checkSettings(message.value));
            break;
          case "start":
            throw invalid("start may only be the first AudioSessionRequest");
          default:
            throw invalid(
              "an AudioSessionRequest must set one of start, audio, mark, clear, settings",
            );
        }
      }
    })().catch((error: unknown) => {
      // A bad track id (PcmFormatError) is InvalidArgument, a lost room Unavailable (errors.ts).
      if (!stopped) out.end(toConnectError(error));
    });

    // Room → cloud: the session's queue, one chunk at a time through the mailbox.
    void (async () => {
      for (;;) {
        const result = await attachment.next();
        if (result.done === true) return out.end();
        await out.audioChunk(result.value);
      }
    })().catch((error: unknown) => {
      // Aborted without a SessionError: the session ended the stream with OK.
      if (attachment.signal.aborted && !(attachment.signal.reason instanceof SessionError)) {
        out.end();
      } else {
        out.end(toConnectError(error));
      }
    });

    try {
      if (attachment.resumed !== undefined) {
        yield {
          message: {
            case: "resumed",
            value: {
              nextSequence: BigInt(attachment.resumed.nextSequence),
              missedChunks: BigInt(attachment.resumed.missed),
            },
          },
        };
      }
      for (;;) {
        const output = await out.next();
        if (output.kind === "end") return;
        yield output.kind === "audio" ? audioResponse(output.chunk) : toResponse(output.event);
      }
    } catch (error) {
      if (error instanceof ConnectError) {
        logger.info("audio session ended", {
          userId,
          code: Code[error.code],
          reason: error.rawMessage,
        });
      }
      throw error;
    } finally {
      stopped = true;
      context.signal.removeEventListener("abort", onClientGone);
      attachment.detach();
      out.end();
    }
  };
}
