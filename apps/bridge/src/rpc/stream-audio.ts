import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import type { AudioChunk, AudioChunkSchema } from "@mentra/bridge-proto";
import type { Logger } from "../logger.js";
import type { SessionRegistry } from "../session/registry.js";
import type { Session } from "../session/session.js";
import { noSession } from "../session/session-errors.js";
import { runAudioStream } from "./audio-stream-core.js";
import { checkCloudAudio } from "./cloud-audio.js";
import { invalid } from "./errors.js";
import { optionalId } from "./fields.js";

type AudioChunkInit = MessageInitShape<typeof AudioChunkSchema>;

/** Options of {@link createStreamAudio}. */
export interface StreamAudioOptions {
  readonly registry: SessionRegistry;
  /** Largest pcm_data accepted in one chunk. */
  readonly maxChunkBytes: number;
  readonly logger: Logger;
}

/** Plays one cloud chunk into the room; a malformed chunk throws InvalidArgument. */
async function playChunk(session: Session, chunk: AudioChunk, maxChunkBytes: number) {
  if (chunk.userId !== "" && chunk.userId !== session.userId) {
    throw invalid(`user_id changed mid-stream from ${session.userId} to ${chunk.userId}`);
  }
  const audio = checkCloudAudio(chunk, maxChunkBytes);
  await session.writeAudio(audio.trackId, audio.samples, audio.sampleRate, audio.channels);
}

/**
 * StreamAudio, the deployed cloud's call: the first message names the user
 * (InvalidArgument without, and FailedPrecondition without a session) and is played like
 * every later one. Cloud chunks play into the room while room audio streams back; no
 * events. It ends as {@link runAudioStream} says: the client leaves, a newer stream for the
 * user replaces it (Aborted), the session loses its room (Aborted for a duplicate
 * identity, Unavailable otherwise) or leaves it (OK), or the first bad chunk
 * (InvalidArgument).
 */
export function createStreamAudio(options: StreamAudioOptions) {
  const { registry, maxChunkBytes, logger } = options;
  return async function* streamAudio(
    requests: AsyncIterable<AudioChunk>,
    context: HandlerContext,
  ): AsyncGenerator<AudioChunkInit> {
    const input = requests[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done === true) return;
    const userId = first.value.userId;
    if (userId === "") throw invalid("the first AudioChunk must carry user_id");
    optionalId("user_id", userId);
    const session = registry.get(userId);
    if (session === undefined) throw noSession(userId);
    yield* runAudioStream<AudioChunk, AudioChunkInit>({
      userId,
      input,
      context,
      logger,
      endLog: "stream ended",
      attach: () => session.attachStream(),
      firstRequest: first.value,
      apply: (chunk) => playChunk(session, chunk, maxChunkBytes),
      // StreamAudio attaches without events: only room audio comes out.
      toResponse: (output) => {
        if (output.kind !== "audio") throw new Error("StreamAudio carries no events");
        const chunk = output.chunk;
        return {
          pcmData: chunk.pcm,
          sampleRate: chunk.sampleRate,
          channels: chunk.channels,
          timestampMs: BigInt(chunk.timestampMs),
          userId,
        };
      },
    });
  };
}
