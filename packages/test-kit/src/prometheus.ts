/** One labelled series of a Prometheus histogram, read from the text exposition. */
export interface HistogramSeries {
  /** Cumulative counts by upper bound (seconds or whatever the metric counts), ascending; +Inf last. */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
  readonly count: number;
  readonly sum: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * The series of histogram `name` whose labels include `labels`, from Prometheus text
 * (what /metrics serves); undefined when there is none.
 */
export function readHistogram(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): HistogramSeries | undefined {
  const buckets: { le: number; count: number }[] = [];
  let count: number | undefined;
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = LINE.exec(line);
    if (match === null) continue;
    const [, metric, labelText = "", value = ""] = match;
    if (metric !== `${name}_bucket` && metric !== `${name}_count` && metric !== `${name}_sum`)
      continue;
    const found = new Map([...labelText.matchAll(LABEL)].map((m) => [m[1], m[2]] as const));
    if (Object.entries(labels).some(([key, wanted]) => found.get(key) !== wanted)) continue;
    if (metric === `${name}_bucket`) {
      const le = found.get("le");
      buckets.push({
        le: le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le),
        count: Number(value),
      });
    } else if (metric === `${name}_count`) count = Number(value);
    else sum = Number(value);
  }
  if (count === undefined) return undefined;
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, count, sum };
}

/** What was observed between two readings of the same series (`before` may be undefined). */
export function histogramDelta(
  after: HistogramSeries,
  before: HistogramSeries | undefined,
): HistogramSeries {
  if (before === undefined) return after;
  return {
    buckets: after.buckets.map((bucket) => ({
      le: bucket.le,
      count: bucket.count - (before.buckets.find((b) => b.le === bucket.le)?.count ?? 0),
    })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/**
 * The `q` quantile (0..1) of a histogram, interpolated linearly inside its bucket as
 * Prometheus's histogram_quantile does; the largest finite bound when it falls in +Inf;
 * NaN when nothing was observed.
 */
export function histogramQuantile(series: HistogramSeries, q: number): number {
  const total = series.buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const bucket of series.buckets) {
    if (bucket.count >= rank) {
      if (!Number.isFinite(bucket.le)) return lowerBound;
      const inBucket = bucket.count - lowerCount;
      const within = inBucket === 0 ? 0 : (rank - lowerCount) / inBucket;
      return lowerBound + (bucket.le - lowerBound) * within;
    }
    lowerBound = bucket.le;
    lowerCount = bucket.count;
  }
  return lowerBound;
}
