import * as prom from "prom-client";
import type { BridgeServerObserver } from "../server.js";

/** What the connection and call gauges read at scrape time. */
export interface ServerLoad {
  readonly connections: number;
  readonly calls: number;
}

/**
 * Registers the metrics of the load the server sheds (`bridge_connections`,
 * `bridge_connections_closed_total{reason}`, `bridge_accept_errors_total{code}`,
 * `bridge_calls`, `bridge_calls_refused_total{reason}`) and returns the observer that
 * feeds them.
 */
export function createServerMetrics(
  registry: prom.Registry,
  load: () => ServerLoad | undefined,
): BridgeServerObserver {
  new prom.Gauge({
    name: "bridge_connections",
    help: "Connections open now (TCP and Unix socket).",
    registers: [registry],
    collect() {
      this.set(load()?.connections ?? 0);
    },
  });
  new prom.Gauge({
    name: "bridge_calls",
    help: "Calls (HTTP/2 streams, HTTP/1.1 requests) open now.",
    registers: [registry],
    collect() {
      this.set(load()?.calls ?? 0);
    },
  });
  const closed = new prom.Counter({
    name: "bridge_connections_closed_total",
    help: "Connections the bridge closed or refused itself, by reason (first_request_timeout, idle_timeout, evicted, refused).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const acceptErrors = new prom.Counter({
    name: "bridge_accept_errors_total",
    help: "Connections that could not be accepted, by error code (EMFILE, ENFILE…).",
    labelNames: ["code"],
    registers: [registry],
  });
  const refused = new prom.Counter({
    name: "bridge_calls_refused_total",
    help: "Calls answered with an error before being served, by reason (max_calls: ResourceExhausted, first_message_timeout: DeadlineExceeded).",
    labelNames: ["reason"],
    registers: [registry],
  });
  return {
    connectionClosed: (reason) => closed.inc({ reason }),
    acceptError: (code) => acceptErrors.inc({ code }),
    callRefused: (reason) => refused.inc({ reason }),
  };
}
