import type { HandlerContext } from "@connectrpc/connect";
import type { AudioSessionRequest, AudioSessionSettings } from "@mentra/bridge-proto";
import { validateTrackId } from "../audio/pcm.js";
import type { Logger } from "../logger.js";
import type { SessionRegistry } from "../session/registry.js";
import type { Session } from "../session/session.js";
import { noSession } from "../session/session-errors.js";
import type { SessionEvent } from "../session/session-events.js";
import { audioResponse, eventResponse, type ResponseInit } from "./audio-session-responses.js";
import { runAudioStream } from "./audio-stream-core.js";
import { checkCloudAudio } from "./cloud-audio.js";
import { invalid } from "./errors.js";
import { optionalFrameMs, optionalSampleRate, requireId } from "./fields.js";

/** Options of {@link createAudioSession}. */
export interface AudioSessionOptions {
  readonly registry: SessionRegistry;
  /** Largest pcm_data accepted in one message. */
  readonly maxChunkBytes: number;
  readonly logger: Logger;
}

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

/** Applies one cloud message after `start`; a bad one throws (InvalidArgument). */
async function applyRequest(
  session: Session,
  request: AudioSessionRequest,
  maxChunkBytes: number,
  events: (event: SessionEvent) => void,
): Promise<void> {
  const { message } = request;
  switch (message.case) {
    case "audio": {
      const audio = checkCloudAudio(message.value, maxChunkBytes);
      await session.writeAudio(audio.trackId, audio.samples, audio.sampleRate, audio.channels);
      return;
    }
    case "mark":
      session.mark(
        validateTrackId(message.value.trackId),
        requireId("mark.name", message.value.name),
      );
      return;
    case "clear":
      events(session.clear(validateTrackId(message.value.trackId)));
      return;
    case "settings":
      applySettings(session, checkSettings(message.value));
      return;
    case "start":
      throw invalid("start may only be the first AudioSessionRequest");
    default:
      throw invalid("an AudioSessionRequest must set one of start, audio, mark, clear, settings");
  }
}

/**
 * AudioSession: the first message is `start` (InvalidArgument otherwise; no session:
 * FailedPrecondition). Cloud audio, marks, clears and settings are applied in order;
 * room audio (numbered), marks played, clears, track stats and participant events come
 * back. Ends like StreamAudio ({@link runAudioStream}): replaced (Aborted), room lost
 * (Unavailable or Aborted), session left (OK), or the first bad message
 * (InvalidArgument); a call that starts with `resume_after_sequence` gets what the broken
 * one missed, after a `resumed` message.
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
    yield* runAudioStream<AudioSessionRequest, ResponseInit>({
      userId,
      input,
      context,
      logger,
      endLog: "audio session ended",
      attach: (events) => {
        const attachment = session.attachStream({
          onEvent: events,
          ...(settings.statsIntervalMs === 0 ? {} : { statsIntervalMs: settings.statsIntervalMs }),
          ...(resumeAfter === undefined ? {} : { resumeAfter: Number(resumeAfter) }),
        });
        applySettings(session, { ...settings, statsIntervalMs: 0 });
        return attachment;
      },
      opening: (attachment) =>
        attachment.resumed === undefined
          ? []
          : [
              {
                message: {
                  case: "resumed",
                  value: {
                    nextSequence: BigInt(attachment.resumed.nextSequence),
                    missedChunks: BigInt(attachment.resumed.missed),
                  },
                },
              },
            ],
      apply: (request, events) => applyRequest(session, request, maxChunkBytes, events),
      toResponse: (output) =>
        output.kind === "audio" ? audioResponse(output.chunk) : eventResponse(output.event),
    });
  };
}
