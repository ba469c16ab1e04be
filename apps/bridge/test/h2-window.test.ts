import * as http2 from "node:http2";
import { afterEach, describe, expect, it } from "vitest";
import { noSessionStats } from "../src/rpc/health-check.js";
import { createBridgeRoutes } from "../src/rpc/routes.js";
import { CONNECTION_WINDOW_BYTES } from "../src/server/h2c-sessions.js";
import { type BridgeServer, createBridgeServer } from "../src/server.js";
import { offlineRoutes } from "./support/offline-routes.js";
import { tcpAddress } from "./support/tools.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("HTTP/2 connection window", () => {
  it("lets a client send 8 MiB on one connection before the bridge acknowledges any", async () => {
    const server: BridgeServer = createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      routes: (shutdownSignal) =>
        createBridgeRoutes({ ...offlineRoutes(), stats: noSessionStats, shutdownSignal }),
    });
    cleanups.push(() => server.close());
    const { url } = tcpAddress(await server.listen());
    const client = http2.connect(url);
    cleanups.push(() => new Promise<void>((resolve) => client.close(() => resolve())));
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    // The bridge's WINDOW_UPDATE comes right after its SETTINGS (nghttp2 answers a ping
    // before either, so wait for the window itself, bounded at 2 s).
    for (let i = 0; i < 40 && client.state.remoteWindowSize === 65_535; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(client.state.remoteWindowSize).toBe(CONNECTION_WINDOW_BYTES);
    // Streams keep the default window: one user's backpressure stays its own.
    expect(client.remoteSettings.initialWindowSize).toBe(65_535);
  });
});
