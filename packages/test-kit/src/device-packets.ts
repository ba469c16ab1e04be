/**
 * A simulated device's microphone packets, as the MentraOS phone app sends them: one data
 * packet per 20 ms of 16 kHz 16-bit PCM, byte 0 a sequence number counting modulo 256,
 * published on LiveKit's lossy data channel. "raw" is the even-length PCM other devices send.
 */

/** How a simulated device lays out its data packets. */
export type DevicePacketFormat = "phone" | "raw";

/** Faults a sender puts in on purpose, by packet index (0, 1, 2… over the sender's life). */
export interface DeviceFaults {
  /** Packets not sent (their sequence numbers are used up, as a lost packet's are). */
  readonly skip?: (index: number) => boolean;
  /** Packets sent twice in a row. */
  readonly duplicate?: (index: number) => boolean;
  /** Packets held back (with their duplicate) and sent right after the next one. */
  readonly swapWithNext?: (index: number) => boolean;
}

/** Options of {@link createDeviceSender}. */
export interface DeviceSenderOptions {
  /** Default "phone". */
  readonly format?: DevicePacketFormat;
  /** The first packet's sequence number (default 1, as the phone app starts). */
  readonly firstSequence?: number;
  /** PCM per packet (default 20 ms). */
  readonly packetMs?: number;
  /** LiveKit's reliable channel; default false for the phone (as it is), true for raw. */
  readonly reliable?: boolean;
  /**
   * Spread the packets of one `send` in real time, one per packetMs (default true), as a
   * microphone does; the call resolves once the last is sent (no wait after it).
   */
  readonly paced?: boolean;
  readonly faults?: DeviceFaults;
}

/** What a sender did with one packet. */
export interface SentPacket {
  readonly index: number;
  /** The sequence byte (phone format), else undefined. */
  readonly sequence: number | undefined;
  /** Its PCM bytes. */
  readonly pcmBytes: number;
  /** "sent", or "skipped" by a fault. */
  readonly fate: "sent" | "skipped";
}

/** Publishes one data packet; a TestParticipant's `sendData` fits. */
export type PublishData = (payload: Uint8Array, options: { reliable: boolean }) => Promise<void>;

/** Sends PCM as a device's data packets, numbering them across calls. */
export interface DeviceSender {
  /**
   * Cuts `pcm` (samples, sent little-endian, or bytes already encoded) into packets and
   * sends them, paced unless the options say not; resolves once the last is sent.
   */
  send(pcm: Int16Array | Uint8Array): Promise<void>;
  /** Every packet so far, in index order. */
  readonly packets: readonly SentPacket[];
  readonly format: DevicePacketFormat;
}

import { sleep } from "@mentra/pcm";
import { leBytes } from "./audio.js";

const BYTES_PER_MS = 32; // 16 kHz mono 16-bit

/** Creates a sender that publishes through `publish`. */
export function createDeviceSender(
  publish: PublishData,
  options: DeviceSenderOptions = {},
): DeviceSender {
  const format = options.format ?? "phone";
  const packetBytes = (options.packetMs ?? 20) * BYTES_PER_MS;
  const reliable = options.reliable ?? format === "raw";
  const paced = options.paced ?? true;
  const faults = options.faults ?? {};
  const packets: SentPacket[] = [];
  let sequence = (options.firstSequence ?? 1) % 256;
  let heldBack: Uint8Array[] | undefined;
  let queue: Promise<void> = Promise.resolve();

  function frame(pcm: Uint8Array): Uint8Array {
    if (format === "raw") return pcm;
    const packet = new Uint8Array(pcm.byteLength + 1);
    packet[0] = sequence;
    packet.set(pcm, 1);
    return packet;
  }

  async function sendOne(pcm: Uint8Array) {
    const index = packets.length;
    const skipped = faults.skip?.(index) === true;
    packets.push({
      index,
      sequence: format === "phone" ? sequence : undefined,
      pcmBytes: pcm.byteLength,
      fate: skipped ? "skipped" : "sent",
    });
    const packet = frame(pcm);
    sequence = (sequence + 1) % 256;
    if (skipped) return;
    const copies = faults.duplicate?.(index) === true ? [packet, packet] : [packet];
    if (faults.swapWithNext?.(index) === true && heldBack === undefined) {
      heldBack = copies;
      return;
    }
    const out = [...copies, ...(heldBack ?? [])];
    heldBack = undefined;
    for (const payload of out) await publish(payload, { reliable });
  }

  async function sendAll(pcm: Uint8Array) {
    const started = performance.now();
    for (let offset = 0, i = 0; offset < pcm.byteLength; offset += packetBytes, i++) {
      await sendOne(pcm.subarray(offset, offset + packetBytes));
      // Paced between a call's packets only: one packet per call goes at once, so a
      // caller that keeps time itself can send packet by packet.
      const more = offset + packetBytes < pcm.byteLength;
      if (paced && more) {
        await sleep(started + (i + 1) * (packetBytes / BYTES_PER_MS) - performance.now());
      }
    }
    const last = heldBack ?? [];
    heldBack = undefined;
    for (const payload of last) await publish(payload, { reliable });
  }

  return {
    send(pcm) {
      const bytes =
        pcm instanceof Int16Array
          ? leBytes(pcm)
          : new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
      queue = queue.then(() => sendAll(bytes));
      return queue;
    },
    packets,
    format,
  };
}
