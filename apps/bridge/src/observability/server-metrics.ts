import type * as prom from "prom-client";
import type { BridgeServerObserver } from "../server.js";
import { labelledCounter, sampledGauge } from "./prom-metrics.js";

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
  sampledGauge(
    registry,
    "bridge_connections",
    "Connections open now (TCP and Unix socket).",
    () => load()?.connections ?? 0,
  );
  sampledGauge(
    registry,
    "bridge_calls",
    "Calls (HTTP/2 streams, HTTP/1.1 requests) open now.",
    () => load()?.calls ?? 0,
  );
  const closed = labelledCounter(
    registry,
    "bridge_connections_closed_total",
    "Connections the bridge closed or refused itself, by reason (first_request_timeout, idle_timeout, evicted, refused).",
    ["reason"],
  );
  const acceptErrors = labelledCounter(
    registry,
    "bridge_accept_errors_total",
    "Connections that could not be accepted, by error code (EMFILE, ENFILE…).",
    ["code"],
  );
  const refused = labelledCounter(
    registry,
    "bridge_calls_refused_total",
    "Calls answered with an error before being served, by reason (max_calls: ResourceExhausted, first_message_timeout: DeadlineExceeded).",
    ["reason"],
  );
  return {
    connectionClosed: (reason) => closed.inc({ reason }),
    acceptError: (code) => acceptErrors.inc({ code }),
    callRefused: (reason) => refused.inc({ reason }),
  };
}
