import {
  createDevicePacketParser,
  type DevicePacketFormat,
  type FormatDecisionReason,
  type ParsedPacket,
} from "../audio/device-packets.js";
import { createSequenceTracker, type TrackedAudio } from "../audio/sequence-tracker.js";

/** 16 kHz mono 16-bit: the PCM bytes in a millisecond of a device packet. */
const DEVICE_BYTES_PER_MS = 32;

/** What became of a session's device packets, as GetStatus and /metrics show it. */
export interface DevicePacketFigures {
  /** "phone", "raw", or "undecided" before enough packets came. */
  readonly format: DevicePacketFormat | "undecided";
  readonly accepted: number;
  readonly lost: number;
  readonly duplicate: number;
  readonly late: number;
  readonly reordered: number;
  readonly invalid: number;
  /** Gaps too long to fill: the phone's stream restarted. */
  readonly resyncs: number;
  /** Silence put in for lost packets (ms, rounded). */
  readonly lossFilledMs: number;
}

/** Options of {@link createDeviceAudio}. */
export interface DeviceAudioOptions {
  /** Even-length PCM in timeline order (silence for losses), with when it arrived. */
  readonly onPcm: (pcm: Uint8Array, arrivedAt: number) => void;
  /** Called once when the session's packet format is decided. */
  readonly onFormat?: (format: DevicePacketFormat, reason: FormatDecisionReason) => void;
  /** The clock (ms); Date.now by default. */
  readonly now?: () => number;
}

/** One session's device data packets turned into a timeline of PCM. */
export interface DeviceAudio {
  /** Takes a data packet from the device. */
  push(payload: Uint8Array): void;
  /** The device left or joined again: its sequence starts anew. */
  restart(): void;
  /** The figures so far. */
  figures(): DevicePacketFigures;
  /** Whether a timer (hold or reorder deadline) is pending. */
  readonly hasTimer: boolean;
  /** Stops the timer; later packets are ignored. Idempotent. */
  close(): void;
}

/**
 * Creates the glue between the room's data packets and the session: the format decision
 * ({@link createDevicePacketParser}), then, for the phone's format, the sequence tracker
 * ({@link createSequenceTracker}); one timer serves both deadlines.
 */
export function createDeviceAudio(options: DeviceAudioOptions): DeviceAudio {
  const now = options.now ?? Date.now;
  const parser = createDevicePacketParser({
    ...(options.onFormat === undefined ? {} : { onDecision: options.onFormat }),
  });
  const tracker = createSequenceTracker({ bytesPerMs: DEVICE_BYTES_PER_MS });
  let rawAccepted = 0;
  let invalid = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function emit(items: readonly TrackedAudio[], at: number) {
    for (const item of items) {
      if (item.kind === "audio") options.onPcm(item.pcm, item.arrivedAt);
      else if (item.bytes > 0) options.onPcm(new Uint8Array(item.bytes), at);
    }
  }

  function take(parsed: readonly ParsedPacket[], at: number) {
    for (const packet of parsed) {
      if (packet.kind === "invalid") {
        invalid++;
      } else if (packet.sequence === undefined) {
        rawAccepted++;
        options.onPcm(packet.pcm, packet.arrivedAt);
      } else {
        emit(tracker.push(packet.sequence, packet.pcm, packet.arrivedAt), at);
      }
    }
  }

  function schedule() {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (closed) return;
    const due = [parser.deadline(), tracker.deadline()].filter((d) => d !== undefined);
    if (due.length === 0) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        const at = now();
        take(parser.poll(at), at);
        emit(tracker.poll(at), at);
        schedule();
      },
      Math.max(0, Math.min(...due) - now()),
    );
  }

  return {
    push(payload) {
      if (closed) return;
      const at = now();
      take(parser.push(payload, at), at);
      schedule();
    },
    restart() {
      emit(tracker.restart(), now());
      schedule();
    },
    figures() {
      const counts = tracker.counts;
      return {
        format: parser.format ?? "undecided",
        accepted: rawAccepted + counts.accepted,
        lost: counts.lost,
        duplicate: counts.duplicate,
        late: counts.late,
        reordered: counts.reordered,
        invalid,
        resyncs: counts.resyncs,
        lossFilledMs: Math.round(counts.filledMs),
      };
    },
    get hasTimer() {
      return timer !== undefined;
    },
    close() {
      closed = true;
      schedule();
    },
  };
}
