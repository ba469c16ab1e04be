import * as prom from "prom-client";
import { describe, expect, it } from "vitest";
import { histogramDelta, histogramQuantile, readHistogram } from "../src/prometheus.js";

async function exposition(observe: (h: prom.Histogram) => void): Promise<string> {
  const registry = new prom.Registry();
  const histogram = new prom.Histogram({
    name: "probe_seconds",
    help: "probe",
    labelNames: ["direction"],
    buckets: [0.001, 0.002, 0.005, 0.01],
    registers: [registry],
  });
  observe(histogram);
  return registry.metrics();
}

describe("Prometheus histograms from /metrics text", () => {
  it("reads one labelled series and its quantiles as histogram_quantile computes them", async () => {
    const text = await exposition((h) => {
      for (let i = 0; i < 90; i++) h.observe({ direction: "up" }, 0.0015);
      for (let i = 0; i < 10; i++) h.observe({ direction: "up" }, 0.004);
      h.observe({ direction: "down" }, 0.5);
    });
    const up = readHistogram(text, "probe_seconds", { direction: "up" });
    expect(up?.count).toBe(100);
    expect(up?.sum).toBeCloseTo(90 * 0.0015 + 10 * 0.004, 9);
    expect(up?.buckets.map((b) => [b.le, b.count])).toEqual([
      [0.001, 0],
      [0.002, 90],
      [0.005, 100],
      [0.01, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    // Rank 50 of 90 in (1, 2] ms; rank 99 is 9 of 10 in (2, 5] ms.
    expect(histogramQuantile(up ?? { buckets: [], count: 0, sum: 0 }, 0.5)).toBeCloseTo(
      0.001 + (0.001 * 50) / 90,
      9,
    );
    expect(histogramQuantile(up ?? { buckets: [], count: 0, sum: 0 }, 0.99)).toBeCloseTo(
      0.002 + 0.003 * 0.9,
      9,
    );
    const down = readHistogram(text, "probe_seconds", { direction: "down" });
    expect(down?.count).toBe(1);
    // Beyond the last finite bound: that bound, as Prometheus answers.
    expect(histogramQuantile(down ?? { buckets: [], count: 0, sum: 0 }, 0.99)).toBe(0.01);
    expect(readHistogram(text, "probe_seconds", { direction: "sideways" })).toBeUndefined();
    expect(readHistogram(text, "other_seconds")).toBeUndefined();
  });

  it("takes what was observed between two readings", async () => {
    const registry = new prom.Registry();
    const h = new prom.Histogram({
      name: "probe_seconds",
      help: "probe",
      buckets: [0.001, 0.01],
      registers: [registry],
    });
    h.observe(0.005);
    const before = readHistogram(await registry.metrics(), "probe_seconds");
    h.observe(0.0005);
    h.observe(0.0005);
    const after = readHistogram(await registry.metrics(), "probe_seconds");
    if (after === undefined) throw new Error("no series");
    const delta = histogramDelta(after, before);
    expect(delta.count).toBe(2);
    expect(delta.buckets.map((b) => b.count)).toEqual([2, 2, 2]);
    expect(histogramQuantile(delta, 0.5)).toBeCloseTo(0.0005, 9);
    expect(Number.isNaN(histogramQuantile({ buckets: [], count: 0, sum: 0 }, 0.5))).toBe(true);
  });
});
