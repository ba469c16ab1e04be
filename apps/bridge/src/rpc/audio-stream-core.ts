import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "../logger.js";
import { requestFields } from "../observability/request-context.js";
import type { StreamAttachment } from "../session/cloud-stream.js";
import { SessionError } from "../session/session-errors.js";
import type { SessionEvent } from "../session/session-events.js";
import { toConnectError } from "./errors.js";
import { type Output, OutputMailbox } from "./output-mailbox.js";

/** What a call sends back: room audio or a session event, in the order they came. */
export type StreamOutput = Exclude<Output, { readonly kind: "end" }>;

/** How one audio RPC (StreamAudio, AudioSession) differs from the other. */
export interface AudioStreamSpec<Req, Res> {
  readonly userId: string;
  /** The call's request messages; the opening one is already read. */
  readonly input: AsyncIterator<Req>;
  readonly context: HandlerContext;
  readonly logger: Logger;
  /** The log line when the call ends with an error, e.g. "stream ended". */
  readonly endLog: string;
  /** Attaches to the session; events go into `events` (in the order they happen). */
  attach(events: (event: SessionEvent) => void): StreamAttachment;
  /** What goes first, once attached (AudioSession's `resumed`). */
  opening?(attachment: StreamAttachment): readonly Res[];
  /** A request the opening message already carried, applied before the rest. */
  readonly firstRequest?: Req;
  /** Applies one cloud message in order; a throw ends the call with its mapped error. */
  apply(request: Req, events: (event: SessionEvent) => void): Promise<void> | void;
  toResponse(output: StreamOutput): Res;
}

/**
 * The skeleton both audio RPCs share: attach to the user's session, apply the cloud's
 * messages in order (the first bad one ends the call), stream room audio and events
 * back through one {@link OutputMailbox}, and end when the client goes, when a newer
 * call replaces this one or the session loses its room (the SessionError's code), or
 * when the session ends the stream (OK). Detaches on every way out; the session itself
 * outlives the call for the grace period.
 */
export async function* runAudioStream<Req, Res>(
  spec: AudioStreamSpec<Req, Res>,
): AsyncGenerator<Res> {
  const out = new OutputMailbox();
  const events = (event: SessionEvent) => out.event(event);
  const attachment = spec.attach(events);
  const onClientGone = () => attachment.detach();
  spec.context.signal.addEventListener("abort", onClientGone);
  let stopped = false;

  // Cloud → room: every message in order; the first bad one ends the call.
  void (async () => {
    if (spec.firstRequest !== undefined) await spec.apply(spec.firstRequest, events);
    for (;;) {
      if (stopped) return;
      const next = await spec.input.next();
      if (next.done === true || stopped) return;
      await spec.apply(next.value, events);
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
    for (const response of spec.opening?.(attachment) ?? []) yield response;
    for (;;) {
      const output = await out.next();
      if (output.kind === "end") return;
      yield spec.toResponse(output);
    }
  } catch (error) {
    if (error instanceof ConnectError) {
      spec.logger.info(spec.endLog, {
        ...requestFields(spec.context.values),
        userId: spec.userId,
        code: Code[error.code],
        reason: error.rawMessage,
      });
    }
    throw error;
  } finally {
    stopped = true;
    spec.context.signal.removeEventListener("abort", onClientGone);
    attachment.detach();
    out.end();
  }
}
