import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  PlayAudioEvent_EventType as EventType,
  type PlayAudioEventSchema,
  type PlayAudioRequest,
} from "@mentra/bridge-proto";
import { validateTrackId } from "../audio/pcm.js";
import type { Logger } from "../logger.js";
import { requestFields } from "../observability/request-context.js";
import type { PlaybackEvent } from "../playback/playback-events.js";
import { parseAudioUrl, shownUrl } from "../playback/url-policy.js";
import type { SessionRegistry } from "../session/registry.js";
import { noSession } from "../session/session-errors.js";
import { invalid } from "./errors.js";
import { boundedText, MAX_URL_BYTES, optionalId, requireId } from "./fields.js";

type PlayAudioEventInit = MessageInitShape<typeof PlayAudioEventSchema>;

/** Largest `volume` accepted: far past any useful gain, so a typo is caught, not clipped. */
const MAX_VOLUME = 100;

/** Options of {@link createPlayAudio}. */
export interface PlayAudioOptions {
  readonly registry: SessionRegistry;
  readonly logger: Logger;
  /** The server's shutdown signal: a call it aborts stops as its session would. */
  readonly shutdownSignal?: AbortSignal;
}

/**
 * PlayAudio: a malformed request (no user, bad URL or scheme, bad volume or track) is
 * InvalidArgument and a user without a session FailedPrecondition; everything that goes
 * wrong with the audio itself is a FAILED event. The stream ends after the final event;
 * cancelling the call stops the playback.
 */
export function createPlayAudio(options: PlayAudioOptions) {
  const { registry, logger } = options;
  return async function* playAudio(
    request: PlayAudioRequest,
    context: HandlerContext,
  ): AsyncGenerator<PlayAudioEventInit> {
    requireId("user_id", request.userId);
    optionalId("request_id", request.requestId);
    boundedText("audio_url", request.audioUrl, MAX_URL_BYTES);
    const { volume } = request;
    if (!Number.isFinite(volume) || volume < 0 || volume > MAX_VOLUME) {
      throw invalid(
        `volume must be 0 (unity) or a gain above 0 up to ${MAX_VOLUME}, got ${volume}`,
      );
    }
    // A bad track id or URL throws PcmFormatError or AudioUrlError: InvalidArgument (errors.ts).
    const trackId = validateTrackId(request.trackId);
    const url = parseAudioUrl(request.audioUrl);
    const session = registry.get(request.userId);
    if (session === undefined) throw noSession(request.userId);
    const requestId = request.requestId === "" ? randomUUID() : request.requestId;
    const playback = session.play({ requestId, url, volume, trackId }, request.stopOther);
    logger.info("playback started", {
      // The playback's own request id (below) names this line, as it names its events.
      rpc: requestFields(context.values).rpc,
      userId: request.userId,
      requestId,
      trackId,
      url: shownUrl(url),
    });
    // Shutdown aborts every call before the sessions close; say so rather than "cancelled".
    const onCancel = () =>
      options.shutdownSignal?.aborted === true
        ? playback.stop("session_server_shutdown", "the bridge is shutting down")
        : playback.stop("cancelled", "the PlayAudio call was cancelled");
    context.signal.addEventListener("abort", onCancel);
    try {
      for await (const event of playback.events) yield toMessage(event, requestId, trackId);
    } finally {
      context.signal.removeEventListener("abort", onCancel);
      onCancel();
    }
  };
}

function toMessage(event: PlaybackEvent, requestId: string, trackId: number): PlayAudioEventInit {
  const durationMs = BigInt(event.durationMs);
  switch (event.type) {
    case "started":
      return {
        type: EventType.STARTED,
        requestId,
        durationMs,
        metadata: { ...event.metadata, track_id: String(trackId) },
      };
    case "progress":
      return {
        type: EventType.PROGRESS,
        requestId,
        durationMs,
        positionMs: BigInt(event.positionMs),
      };
    case "completed":
      return {
        type: EventType.COMPLETED,
        requestId,
        durationMs,
        positionMs: BigInt(event.positionMs),
      };
    case "failed":
      return {
        type: EventType.FAILED,
        requestId,
        durationMs,
        positionMs: BigInt(event.positionMs),
        error: event.error,
        metadata: { code: event.code },
      };
    case "stopped":
      return {
        type: EventType.STOPPED,
        requestId,
        durationMs,
        positionMs: BigInt(event.positionMs),
        metadata: { reason: event.reason, detail: event.detail },
      };
  }
}
