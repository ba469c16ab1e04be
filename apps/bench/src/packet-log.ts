/** Samples of one device packet: 20 ms of 16 kHz mono. */
export const PACKET_SAMPLES = 320;

/** Writes `seq` into the first two samples (low and high 16 bits) of a packet. */
export function stampSequence(packet: Int16Array, seq: number): void {
  packet[0] = ((seq & 0xffff) << 16) >> 16;
  packet[1] = ((seq >>> 16) << 16) >> 16;
}

/** Reads the sequence number written by {@link stampSequence} at `offset`. */
export function readSequence(samples: Int16Array, offset: number): number {
  return ((samples[offset] ?? 0) & 0xffff) + ((samples[offset + 1] ?? 0) & 0xffff) * 65_536;
}

/** What happened to the packets sent within a time window. */
export interface WindowPackets {
  sent: number;
  received: number;
  /** Sent, never received. */
  gaps: number;
  /** Extra copies received. */
  duplicates: number;
  /** Arrived after a packet with a higher number. */
  reordered: number;
  /** sendData itself failed (a load-generator problem, not the bridge's). */
  sendErrors: number;
  /** Bridge receipt − device send (LiveKit and rtc-node delivery), ms. */
  readonly livekitPathMs: number[];
  /** Cloud arrival − bridge receipt (the bridge's queue, gRPC, HTTP/2, client), ms. */
  readonly bridgeAddedMs: number[];
  /** Cloud arrival − device send, ms. */
  readonly endToEndMs: number[];
}

/** Per-user record of every sequence-numbered packet: when sent, when and how often received. */
export interface PacketLog {
  /** Records packet `seq` sent at `atMs`; returns `seq`. */
  sent(atMs: number): number;
  sendFailed(seq: number): void;
  /** Parses a received frame into packets; counts blocks that are no packet of ours. */
  received(samples: Int16Array, bridgeAtMs: number, arrivedAtMs: number): void;
  /** Adds the packets sent in [startMs, endMs) to `into`. */
  collect(startMs: number, endMs: number, into: WindowPackets): void;
  /**
   * Frames (one per chunk the bridge sent: a packet of ours, filled silence, anything)
   * that the bridge received in [fromMs, toMs), by their `bridgeAtMs`.
   */
  framesReceivedByBridge(fromMs: number, toMs: number): number;
  /** Frames that were not a whole number of packets, or numbers never sent. */
  readonly foreign: number;
}

/** An empty {@link WindowPackets}. */
export function emptyWindow(): WindowPackets {
  return {
    sent: 0,
    received: 0,
    gaps: 0,
    duplicates: 0,
    reordered: 0,
    sendErrors: 0,
    livekitPathMs: [],
    bridgeAddedMs: [],
    endToEndMs: [],
  };
}

/** Creates an empty packet log. */
export function createPacketLog(): PacketLog {
  const sentAt: number[] = [];
  const bridgeAt: number[] = [];
  const arrivedAt: number[] = [];
  const copies: number[] = [];
  const failed = new Set<number>();
  const reordered = new Set<number>();
  let highest = -1;
  let foreign = 0;
  // Every frame's bridge timestamp, in arrival order.
  const frameBridgeAt: number[] = [];
  return {
    get foreign() {
      return foreign;
    },
    sent(atMs) {
      sentAt.push(atMs);
      copies.push(0);
      return sentAt.length - 1;
    },
    sendFailed(seq) {
      failed.add(seq);
    },
    received(samples, bridgeAtMs, arrivedAtMs) {
      frameBridgeAt.push(bridgeAtMs);
      if (samples.length % PACKET_SAMPLES !== 0) foreign++;
      for (let offset = 0; offset + PACKET_SAMPLES <= samples.length; offset += PACKET_SAMPLES) {
        // The bridge fills a lost phone packet with its 20 ms of silence: no packet of ours
        // (it shows as a gap of the packet it stands for).
        if (isSilence(samples, offset)) continue;
        const seq = readSequence(samples, offset);
        const count = copies[seq];
        if (count === undefined) {
          foreign++;
          continue;
        }
        copies[seq] = count + 1;
        if (count > 0) continue;
        bridgeAt[seq] = bridgeAtMs;
        arrivedAt[seq] = arrivedAtMs;
        if (seq < highest) reordered.add(seq);
        else highest = seq;
      }
    },
    collect(startMs, endMs, into) {
      for (let seq = 0; seq < sentAt.length; seq++) {
        const at = sentAt[seq] ?? 0;
        if (at < startMs) continue;
        if (at >= endMs) break;
        into.sent++;
        if (failed.has(seq)) {
          into.sendErrors++;
          continue;
        }
        const count = copies[seq] ?? 0;
        if (count === 0) {
          into.gaps++;
          continue;
        }
        into.received++;
        into.duplicates += count - 1;
        if (reordered.has(seq)) into.reordered++;
        const bridge = bridgeAt[seq] ?? 0;
        const arrived = arrivedAt[seq] ?? 0;
        into.livekitPathMs.push(bridge - at);
        into.bridgeAddedMs.push(arrived - bridge);
        into.endToEndMs.push(arrived - at);
      }
    },
    framesReceivedByBridge(fromMs, toMs) {
      let count = 0;
      for (const at of frameBridgeAt) if (at >= fromMs && at < toMs) count++;
      return count;
    },
  };
}

function isSilence(samples: Int16Array, offset: number): boolean {
  for (let i = offset; i < offset + PACKET_SAMPLES; i++) if (samples[i] !== 0) return false;
  return true;
}
