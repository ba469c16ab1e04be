import type { Disconnect, LinkStats } from "../livekit/index.js";
import type { DevicePacketFigures } from "./device-audio.js";

/** The last loss of the room, as GetStatus reports it. */
export interface LastDisconnect {
  readonly at: number;
  readonly disconnect: Disconnect;
}

/** A user's state as GetStatus reports it. */
export interface SessionStatus {
  readonly connected: boolean;
  readonly participantId: string;
  readonly participantCount: number;
  /** When and why the room was last lost; undefined if never. */
  readonly lastDisconnect: LastDisconnect | undefined;
  readonly metadata: Record<string, string>;
  /** What became of the device's data packets. */
  readonly devicePackets: DevicePacketFigures;
}

/** Device packet figures as GetStatus metadata (the keys /metrics sums). */
export function devicePacketMetadata(figures: DevicePacketFigures): Record<string, string> {
  return {
    device_packet_format: figures.format,
    device_packets_accepted: String(figures.accepted),
    device_packets_lost: String(figures.lost),
    device_packets_duplicate: String(figures.duplicate),
    device_packets_late: String(figures.late),
    device_packets_reordered: String(figures.reordered),
    device_packets_invalid: String(figures.invalid),
    device_packet_resyncs: String(figures.resyncs),
    device_loss_filled_ms: String(figures.lossFilledMs),
  };
}

/** Counters summed; gauges (jitter, round trip) from `b`, the newer. */
export function addStats(a: LinkStats, b: LinkStats): LinkStats {
  return {
    packetsReceived: a.packetsReceived + b.packetsReceived,
    packetsLost: a.packetsLost + b.packetsLost,
    concealedMs: a.concealedMs + b.concealedMs,
    jitterMs: b.jitterMs,
    packetsSent: a.packetsSent + b.packetsSent,
    packetsLostByPeer: a.packetsLostByPeer + b.packetsLostByPeer,
    roundTripMs: b.roundTripMs,
  };
}

/**
 * Media figures for GetStatus: counters over every link of the session (`past` summed
 * with `current`), and gauges of the current link.
 */
export function mediaMetadata(past: LinkStats, current: LinkStats): Record<string, string> {
  const total = addStats(past, current);
  return {
    room_packets_received: String(total.packetsReceived),
    room_packets_lost: String(total.packetsLost),
    room_concealed_ms: String(total.concealedMs),
    room_jitter_ms: String(current.jitterMs),
    room_packets_sent: String(total.packetsSent),
    room_packets_lost_by_peer: String(total.packetsLostByPeer),
    room_round_trip_ms: String(current.roundTripMs),
  };
}
