import { create } from "@bufbuild/protobuf";
import { createRouterTransport } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  LiveKitBridge,
} from "@mentra/bridge-proto";
import { describe, expect, it } from "vitest";
import { createBridgeClient } from "../src/index.js";

describe("createBridgeClient().health()", () => {
  it("maps the bridge's HealthCheck answer to plain values", async () => {
    let seenAuthorization: string | null = null;
    const transport = createRouterTransport(({ service }) => {
      service(LiveKitBridge, {
        healthCheck(_req, ctx) {
          seenAuthorization = ctx.requestHeader.get("authorization");
          return create(HealthCheckResponseSchema, {
            status: HealthCheckResponse_ServingStatus.NOT_SERVING,
            activeSessions: 3,
            activeStreams: 2,
            uptimeSeconds: 42n,
            metadata: { version: "9.9.9" },
          });
        },
      });
    });
    const client = createBridgeClient({ baseUrl: "http://unused", transport });
    expect(await client.health()).toEqual({
      status: "not-serving",
      activeSessions: 3,
      activeStreams: 2,
      uptimeSeconds: 42,
      version: "9.9.9",
    });
    // An injected transport carries no API key interceptor of ours.
    expect(seenAuthorization).toBeNull();
  });
});
