import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type createClient } from "@connectrpc/connect";
import {
  PlayAudioEvent_EventType as EventType,
  type LiveKitBridge,
  type PlayAudioEvent,
  type PlayAudioRequestSchema,
} from "@mentra/bridge-proto";
import type { TimedBlock } from "./track-recorder.js";

type Client = ReturnType<typeof createClient<typeof LiveKitBridge>>;

/** A PlayAudio event with the wall-clock time the test received it. */
export interface TimedEvent {
  readonly at: number;
  readonly event: PlayAudioEvent;
}

/** One PlayAudio call as the cloud sees it. */
export interface PlayCall {
  /** When the request was sent (Date.now()). */
  readonly sentAt: number;
  readonly events: TimedEvent[];
  /** Resolves when the call ends: the events, and the error if it ended with one. */
  readonly ended: Promise<{ events: TimedEvent[]; error: ConnectError | undefined }>;
  /** Cancels the call from the client side. */
  cancel(): void;
}

/** Starts PlayAudio and collects its events. */
export function playAudio(
  client: Client,
  request: MessageInitShape<typeof PlayAudioRequestSchema>,
): PlayCall {
  const controller = new AbortController();
  const events: TimedEvent[] = [];
  const sentAt = Date.now();
  const ended = (async () => {
    try {
      for await (const event of client.playAudio(request, { signal: controller.signal })) {
        events.push({ at: Date.now(), event });
      }
      return { events, error: undefined };
    } catch (error) {
      return { events, error: ConnectError.from(error) };
    }
  })();
  return { sentAt, events, ended, cancel: () => controller.abort() };
}

/** The event types of a call, by name, e.g. ["STARTED", "PROGRESS", "COMPLETED"]. */
export function typesOf(events: readonly TimedEvent[]): string[] {
  const names: string[] = [];
  for (const { event } of events) {
    const name = EventType[event.type] ?? String(event.type);
    if (name === "PROGRESS" && names.at(-1) === "PROGRESS") continue;
    names.push(name);
  }
  return names;
}

/** The final event of a call. */
export function finalOf(events: readonly TimedEvent[]): PlayAudioEvent | undefined {
  return events.at(-1)?.event;
}

/** Wall-clock times of the first and last audible 10 ms block a device received. */
export function audibleSpan(timeline: readonly TimedBlock[], threshold = 0.05) {
  let first: number | undefined;
  let last: number | undefined;
  for (const block of timeline) {
    let sum = 0;
    for (const v of block.samples) sum += v * v;
    const rms = Math.sqrt(sum / Math.max(1, block.samples.length)) / 32_768;
    if (rms > threshold) {
      first ??= block.at;
      last = block.at;
    }
  }
  return { first, last };
}
