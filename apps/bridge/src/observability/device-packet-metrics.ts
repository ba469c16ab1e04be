import * as prom from "prom-client";
import { totalCounter } from "./prom-metrics.js";

/** Session metadata counters of device data packets, and the fate each one stands for. */
export const DEVICE_PACKET_FATES = {
  device_packets_accepted: "accepted",
  device_packets_lost: "lost",
  device_packets_duplicate: "duplicate",
  device_packets_late: "late",
  device_packets_reordered: "reordered",
  device_packets_invalid: "invalid",
} as const;

/** The metadata key of the silence filled in for lost device packets (ms). */
export const DEVICE_LOSS_FILLED_KEY = "device_loss_filled_ms";

/** The metadata keys {@link registerDevicePacketMetrics} reads. */
export const DEVICE_PACKET_KEYS = [
  ...Object.keys(DEVICE_PACKET_FATES),
  DEVICE_LOSS_FILLED_KEY,
] as const;

/**
 * Registers `bridge_device_packets_total{fate}` and `bridge_device_loss_filled_seconds_total`,
 * read at scrape time from `sums` (the session totals of {@link DEVICE_PACKET_KEYS}).
 */
export function registerDevicePacketMetrics(
  registry: prom.Registry,
  sums: () => Record<string, number>,
): void {
  new prom.Counter({
    name: "bridge_device_packets_total",
    help:
      "Device data packets by fate: accepted, lost (filled with silence), duplicate, late, " +
      "reordered (put back in order, also counted as accepted), invalid (fit no format).",
    labelNames: ["fate"],
    registers: [registry],
    collect() {
      const totals = sums();
      this.reset();
      for (const [key, fate] of Object.entries(DEVICE_PACKET_FATES)) {
        this.inc({ fate }, totals[key] ?? 0);
      }
    },
  });
  totalCounter(
    registry,
    "bridge_device_loss_filled_seconds_total",
    "Silence the bridge put in for lost device packets, so the cloud's timeline stays true.",
    () => (sums()[DEVICE_LOSS_FILLED_KEY] ?? 0) / 1000,
  );
}
