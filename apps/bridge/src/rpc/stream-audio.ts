import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { AudioChunk, AudioChunkSchema } from "@mentra/bridge-proto";
import type { Logger } from "../logger.js";
import type { SessionRegistry } from "../session/registry.js";
import type { Session } from "../session/session.js";
import { noSession, SessionError } from "../session/session-errors.js";
import { checkCloudAudio } from "./cloud-audio.js";
import { invalid, toConnectError } from "./errors.js";
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
 * StreamAudio: the first message names the user (InvalidArgument without, and
 * FailedPrecondition without a session). Cloud chunks play into the room while room
 * audio streams back. The stream ends when the client leaves, when a newer stream for
 * the user replaces it (Aborted), when the session loses its room (Aborted for a duplicate
 * identity, Unavailable otherwise) or leaves it (OK), or at the first bad chunk
 * (InvalidArgument); the session itself outlives the stream for the grace period.
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
    const attachment = session.attachStream();
    const onClientGone = () => attachment.detach();
    context.signal.addEventListener("abort", onClientGone);
    let stopped = false;
    let failInput: (error: unknown) => void = () => {};
    const inputFailed = new Promise<never>((_, reject) => {
      failInput = reject;
    });
    void (async () => {
      let chunk: AudioChunk = first.value;
      for (;;) {
        await playChunk(session, chunk, maxChunkBytes);
        if (stopped) return;
        const next = await input.next();
        if (next.done === true || stopped) return;
        chunk = next.value;
      }
    })().catch((error: unknown) => {
      if (!stopped) failInput(error);
    });
    try {
      for (;;) {
        const result = await Promise.race([attachment.next(), inputFailed]);
        if (result.done === true) return;
        const chunk = result.value;
        yield {
          pcmData: chunk.pcm,
          sampleRate: chunk.sampleRate,
          channels: chunk.channels,
          timestampMs: BigInt(chunk.timestampMs),
          userId,
        };
      }
    } catch (error) {
      if (error instanceof ConnectError || error instanceof SessionError) {
        const end = toConnectError(error);
        logger.info("stream ended", { userId, code: Code[end.code], reason: end.rawMessage });
        throw end;
      }
      // Aborted without a SessionError: the session ended the stream with OK.
      if (attachment.signal.aborted && !(attachment.signal.reason instanceof SessionError)) {
        return;
      }
      throw error;
    } finally {
      stopped = true;
      context.signal.removeEventListener("abort", onClientGone);
      attachment.detach();
    }
  };
}
