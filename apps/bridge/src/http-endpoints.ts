import type { BridgeMetrics } from "./observability/metrics.js";
import type { Readiness } from "./observability/readiness.js";
import type { HttpHandler } from "./server.js";

/** Options of {@link createHttpEndpoints}. */
export interface HttpEndpointsOptions {
  readonly readiness: Readiness;
  readonly metrics: BridgeMetrics;
}

/**
 * Serves the operator endpoints beside the RPCs, on the same port and both HTTP versions:
 * `GET /healthz` (the process answers), `GET /readyz` (200 or 503 with the checks as
 * JSON) and `GET /metrics` (Prometheus text). Anything else is 404.
 */
export function createHttpEndpoints(options: HttpEndpointsOptions): HttpHandler {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, contentType: string, body: string) => {
      res.writeHead(status, {
        "content-type": contentType,
        "cache-control": "no-store",
        "content-length": Buffer.byteLength(body),
      });
      res.end(req.method === "HEAD" ? "" : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(
        path === "/healthz" || path === "/readyz" || path === "/metrics" ? 405 : 404,
        "text/plain",
        "\n",
      );
      return;
    }
    switch (path) {
      case "/healthz":
        send(200, "text/plain", "ok\n");
        return;
      case "/readyz":
        options.readiness.check().then(
          (report) =>
            send(report.ready ? 200 : 503, "application/json", `${JSON.stringify(report)}\n`),
          (error: unknown) => send(500, "text/plain", `${String(error)}\n`),
        );
        return;
      case "/metrics":
        options.metrics.render().then(
          (text) => send(200, options.metrics.contentType, text),
          (error: unknown) => send(500, "text/plain", `${String(error)}\n`),
        );
        return;
      default:
        send(404, "text/plain", "not found\n");
    }
  };
}
