import * as prom from "prom-client";
import { DEVICE_PACKET_KEYS, registerDevicePacketMetrics } from "./device-packet-metrics.js";
import { sampledGauge, totalCounter } from "./prom-metrics.js";
import type { SessionSource, SessionTotals } from "./session-totals.js";

// Session status counters that count drops, and the reason each one stands for.
const DROPS = {
  cloud_dropped_ms: "cloud_queue_full_ms",
  cloud_delay_dropped_ms: "cloud_standing_delay_ms",
  unannounced_packets_dropped: "unannounced_sender",
  to_room_late_dropped_ms: "to_room_late_ms",
} as const;

// Session status counters of cloud → room underruns (see OutboundTrack.underruns).
const UNDERRUN_KEYS = ["to_room_underruns", "to_room_underrun_ms"] as const;

// Session media counters (WebRTC statistics) and the labels each one stands for.
const MEDIA: Record<string, Record<string, string>> = {
  room_packets_received: { direction: "from_room", fate: "received" },
  room_packets_lost: { direction: "from_room", fate: "lost" },
  room_packets_sent: { direction: "to_room", fate: "sent" },
  room_packets_lost_by_peer: { direction: "to_room", fate: "lost" },
  room_concealed_ms: {},
};

/** The GetStatus metadata keys the session metrics sum over the sessions. */
export const SESSION_TOTAL_KEYS: readonly string[] = [
  ...Object.keys(DROPS),
  ...Object.keys(MEDIA),
  ...DEVICE_PACKET_KEYS,
  ...UNDERRUN_KEYS,
];

/**
 * Registers the session-level metrics, read at scrape time: the counters summed in
 * `totals` (device packets, drops, room packets, underruns, concealment; see
 * {@link SESSION_TOTAL_KEYS}) and the worst round trip to LiveKit among live sessions.
 */
export function registerSessionMetrics(
  registry: prom.Registry,
  sessions: SessionSource,
  totals: SessionTotals,
): void {
  registerDevicePacketMetrics(registry, () => totals.refresh());
  new prom.Counter({
    name: "bridge_dropped_total",
    help: "Audio dropped by the bridge, by reason (the *_ms reasons count milliseconds).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      const sums = totals.refresh();
      this.reset();
      for (const [key, reason] of Object.entries(DROPS)) this.inc({ reason }, sums[key] ?? 0);
    },
  });
  new prom.Counter({
    name: "bridge_room_packets_total",
    help: "RTP audio packets between the bridge and LiveKit (WebRTC statistics), by direction and fate.",
    labelNames: ["direction", "fate"],
    registers: [registry],
    collect() {
      const sums = totals.refresh();
      this.reset();
      for (const [key, labels] of Object.entries(MEDIA)) {
        if (key !== "room_concealed_ms") this.inc(labels, sums[key] ?? 0);
      }
    },
  });
  totalCounter(
    registry,
    "bridge_to_room_underruns_total",
    "Times a published track's AudioSource ran dry inside audio, so the room heard a gap in it: the next frame already waited in the bridge, or cloud audio continuing cloud audio came less than 200 ms after the source ran dry.",
    () => totals.refresh().to_room_underruns ?? 0,
  );
  totalCounter(
    registry,
    "bridge_to_room_underrun_seconds_total",
    "How long published tracks' AudioSources ran dry inside audio (see bridge_to_room_underruns_total).",
    () => (totals.refresh().to_room_underrun_ms ?? 0) / 1000,
  );
  totalCounter(
    registry,
    "bridge_room_concealed_seconds_total",
    "Room audio the bridge's decoder invented for lost or late packets (packet-loss concealment).",
    () => (totals.refresh().room_concealed_ms ?? 0) / 1000,
  );
  sampledGauge(
    registry,
    "bridge_room_round_trip_seconds_max",
    "The longest round trip to LiveKit among live sessions now (WebRTC receiver reports).",
    () => worstRoundTripMs(sessions, totals.users) / 1000,
  );
}

/** The longest room round trip (ms) among the live sessions of `users`; 0 for none. */
function worstRoundTripMs(sessions: SessionSource, users: Iterable<string>): number {
  let worst = 0;
  for (const userId of users) {
    if (!sessions.isLive(userId)) continue;
    const rtt = Number(sessions.status(userId)?.metadata.room_round_trip_ms ?? 0) || 0;
    worst = Math.max(worst, rtt);
  }
  return worst;
}
