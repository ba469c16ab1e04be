import { z } from "zod/v3";
import { integer, oneOf, text } from "./setting.js";

/** Byte orders a session's device PCM may be read in; "auto" decides from the first audio. */
export const BYTE_ORDER_MODES = ["little", "big", "auto"] as const;

/** A mode of {@link BYTE_ORDER_MODES}. */
export type ByteOrderSetting = (typeof BYTE_ORDER_MODES)[number];

/**
 * What every session starts with: how it joins its room, and the audio it buffers each
 * way. A new session setting is one more entry here (and its use in the session).
 */
export const SESSION_SETTINGS = {
  LIVEKIT_IDENTITY_TEMPLATE: text({
    field: "identityTemplate",
    schema: z.string().includes("{userId}"),
    default: "cloud-agent:{userId}",
    expected: "a template containing {userId}",
    description: "Identity the bridge joins with when it mints the token itself.",
  }),
  LIVEKIT_TOKEN_TTL_SECONDS: integer({
    field: "tokenTtlSeconds",
    min: 1,
    max: 7 * 86_400,
    unit: "seconds",
    default: 3_600,
    description: "Lifetime of minted tokens; a rejoin always mints a fresh one.",
  }),
  LIVEKIT_CONNECT_TIMEOUT_MS: integer({
    field: "connectTimeoutMs",
    min: 100,
    max: 120_000,
    unit: "milliseconds",
    default: 10_000,
    description: "How long JoinRoom waits for LiveKit before answering success=false.",
  }),
  STREAM_GRACE_MS: integer({
    field: "streamGraceMs",
    min: 0,
    max: 3_600_000,
    unit: "milliseconds",
    default: 30_000,
    description: "How long a session stays in its room with no StreamAudio stream.",
  }),
  PCM_BYTE_ORDER: oneOf(BYTE_ORDER_MODES, {
    field: "pcmByteOrder",
    default: "auto",
    description: "Byte order of device PCM in data packets, unless JoinRoom says.",
  }),
  RECEIVE_FRAME_MS: integer({
    field: "receiveFrameMs",
    min: 10,
    max: 100,
    unit: "milliseconds",
    default: 20,
    description: "Duration of room-to-cloud chunks from microphone tracks.",
  }),
  CLOUD_QUEUE_MS: integer({
    field: "cloudQueueMs",
    min: 20,
    max: 60_000,
    unit: "milliseconds",
    default: 10_000,
    description: "Room-to-cloud audio kept for a slow reader; beyond it the oldest is dropped.",
  }),
  CLOUD_MAX_DELAY_MS: integer({
    field: "cloudMaxDelayMs",
    min: 0,
    max: 60_000,
    unit: "milliseconds",
    default: 200,
    description:
      "Room-to-cloud audio whose wait in the bridge stays above this for a second is dropped (and counted) until the stream is live again; 0 never. A handover's backlog is kept.",
  }),
  REPLAY_MS: integer({
    field: "replayMs",
    min: 0,
    max: 60_000,
    unit: "milliseconds",
    default: 2_000,
    description:
      "Room audio kept after it was sent, so an AudioSession resumed after a break loses none; 0 none.",
  }),
  ROOM_STATS_INTERVAL_MS: integer({
    field: "roomStatsIntervalMs",
    min: 0,
    max: 3_600_000,
    unit: "milliseconds",
    default: 5_000,
    description:
      "How often each session reads WebRTC statistics (loss, concealment, jitter, RTT); 0 never.",
  }),
  TRACK_BUFFER_MS: integer({
    field: "trackBufferMs",
    min: 10,
    max: 10_000,
    unit: "milliseconds",
    default: 200,
    description: "Cloud-to-room audio buffered per track before the sender is held back.",
  }),
  TRACK_SOURCE_QUEUE_MS: integer({
    field: "trackSourceQueueMs",
    min: 10,
    max: 5_000,
    unit: "milliseconds",
    default: 100,
    description: "Audio queued inside each published track's LiveKit AudioSource.",
  }),
  TRACK_JITTER_BUFFER_MS: integer({
    field: "trackJitterBufferMs",
    min: 0,
    max: 1_000,
    unit: "milliseconds",
    default: 60,
    description:
      "Cloud-to-room audio held before an utterance starts playing, so chunks that come up to this late leave no gap; 0 none.",
  }),
  TRACK_MAX_LATE_MS: integer({
    field: "trackMaxLateMs",
    min: 0,
    max: 10_000,
    unit: "milliseconds",
    default: 100,
    description:
      "Cloud-to-room audio that fell behind its utterance's schedule (the source ran dry inside it) by more than this is dropped and counted until it is back on time; 0 drops whatever is late.",
  }),
  MAX_CHUNK_BYTES: integer({
    field: "maxChunkBytes",
    min: 2,
    max: 16 * 1024 * 1024,
    unit: "bytes",
    default: 1024 * 1024,
    description: "Largest pcm_data accepted in one AudioChunk.",
  }),
};
