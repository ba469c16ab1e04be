import * as prom from "prom-client";

/** Which way audio crosses the bridge. */
export type LatencyDirection = "to_cloud" | "to_room";

/** Where the bridge reports how long audio spent inside it. */
export interface AudioLatencySink {
  /** One chunk (to_cloud) or 20 ms frame (to_room) spent `ms` inside the bridge. */
  observe(direction: LatencyDirection, ms: number): void;
}

/** Ignores every observation (tests, or a bridge without metrics). */
export const NO_AUDIO_LATENCY: AudioLatencySink = { observe() {} };

/** Bucket bounds in seconds: fine below 30 ms, where the bridge's own share lives. */
const BUCKETS = [
  0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1,
];

/**
 * The histogram `bridge_audio_latency_seconds{direction}`:
 * - to_cloud: from the room audio reaching the bridge's JavaScript (an rtc-node frame
 *   event or a data packet) to the chunk being taken by the cloud's stream to be sent;
 * - to_room: from the cloud's chunk being written to the track to its 20 ms frame
 *   leaving the AudioSource's queue for the encoder (the wait for captureFrame plus the
 *   audio queued ahead of it), so audio the cloud sends ahead of real time counts here.
 */
export function createAudioLatencyHistogram(registry: prom.Registry): AudioLatencySink {
  const histogram = new prom.Histogram({
    name: "bridge_audio_latency_seconds",
    help: "Time audio spends inside the bridge, by direction (to_cloud: frame event to stream send; to_room: write to leaving the AudioSource queue).",
    labelNames: ["direction"],
    buckets: BUCKETS,
    registers: [registry],
  });
  const children = {
    to_cloud: histogram.labels({ direction: "to_cloud" }),
    to_room: histogram.labels({ direction: "to_room" }),
  };
  return {
    observe(direction, ms) {
      children[direction].observe(ms / 1000);
    },
  };
}
