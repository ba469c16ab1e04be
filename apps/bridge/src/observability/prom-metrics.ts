import * as prom from "prom-client";

/** The configuration every metric starts from: its name and help, registered on `registry`. */
function registered(registry: prom.Registry, name: string, help: string) {
  return { name, help, registers: [registry] };
}

/** Registers the metric `name` (`help`) on `registry`, its value read at every scrape. */
type ReadMetric<M> = (registry: prom.Registry, name: string, help: string, read: () => number) => M;

/** A gauge set from `read()` at every scrape. */
export const sampledGauge: ReadMetric<prom.Gauge> = (registry, name, help, read) =>
  new prom.Gauge({
    ...registered(registry, name, help),
    collect() {
      this.set(read());
    },
  });

/** Registers a counter on `registry` that its owner increments, by `labelNames`. */
export function labelledCounter<T extends string>(
  registry: prom.Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
): prom.Counter<T> {
  return new prom.Counter({ ...registered(registry, name, help), labelNames });
}

/** A counter whose value is `read()` at every scrape: a sum kept elsewhere that only grows. */
export const totalCounter: ReadMetric<prom.Counter> = (registry, name, help, read) =>
  new prom.Counter({
    ...registered(registry, name, help),
    collect() {
      this.reset();
      this.inc(read());
    },
  });
