import { histogramDelta, histogramQuantile, readHistogram } from "@mentra/test-kit";

/** Percentiles of a latency sample, in the sample's unit. */
export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank percentiles; all zero for an empty sample. Sorts a copy. */
export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return {
    count: sorted.length,
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

/** Least-squares slope of y over x; 0 with fewer than two distinct x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i] ?? 0;
    sy += ys[i] ?? 0;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] ?? 0) - mx;
    num += dx * ((ys[i] ?? 0) - my);
    den += dx * dx;
  }
  return den === 0 ? 0 : num / den;
}

/** Rounds for reports: figures that read well in a table and in JSON. */
export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Bytes to MiB. */
export const mib = (bytes: number) => bytes / 1_048_576;

/** Percentiles, in ms, of what the bridge's latency histogram counted between two scrapes. */
export interface InsideLatency {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

/**
 * The bridge's own latency (bridge_audio_latency_seconds{direction}) between the /metrics
 * texts `before` and `after`: quantiles interpolated within buckets, as Prometheus does.
 */
export function insideLatency(before: string, after: string, direction: string): InsideLatency {
  const name = "bridge_audio_latency_seconds";
  const end = readHistogram(after, name, { direction });
  if (end === undefined) return { count: 0, p50: 0, p95: 0, p99: 0 };
  const delta = histogramDelta(end, readHistogram(before, name, { direction }));
  const ms = (q: number) => (delta.count === 0 ? 0 : round(histogramQuantile(delta, q) * 1000, 2));
  return { count: delta.count, p50: ms(0.5), p95: ms(0.95), p99: ms(0.99) };
}
