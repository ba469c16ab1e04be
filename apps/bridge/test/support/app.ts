import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { type BridgeApp, createBridgeApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createLogger, type Logger, silentLogger } from "../../src/logger.js";
import { tcpAddress } from "./tools.js";

/** A stand-in for LiveKit's HTTP port on loopback: answers "OK" and counts requests. */
export interface FakeLiveKit {
  readonly url: string;
  readonly requests: () => number;
  close(): Promise<void>;
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Starts a {@link FakeLiveKit} on a free loopback port. */
export async function startFakeLiveKit(): Promise<FakeLiveKit> {
  let requests = 0;
  const server = http.createServer((_req, res) => {
    requests++;
    res.end("OK");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Options of {@link startApp}. */
export interface StartAppOptions {
  /** Bridge settings as environment variables. */
  readonly env?: NodeJS.ProcessEnv;
  /** LiveKit URL sessions and the readiness probe use; default a closed loopback port. */
  readonly livekitUrl?: string;
  /** Keys to mint join tokens with (a real LiveKit); default none. */
  readonly livekitKeys?: { readonly apiKey: string; readonly apiSecret: string };
  /** Collects log lines instead of dropping them. */
  readonly logLines?: string[];
}

/** The whole bridge (as `npm start` wires it) on an ephemeral loopback port. */
export async function startApp(options: StartAppOptions = {}): Promise<{
  app: BridgeApp;
  url: string;
  port: number;
}> {
  const config = loadConfig({ BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0", ...options.env });
  const lines = options.logLines;
  const logger: Logger =
    lines === undefined
      ? silentLogger
      : createLogger({ level: "debug", write: (line) => lines.push(line), secrets: [] });
  const app = createBridgeApp({
    config,
    livekit: {
      url: options.livekitUrl ?? `ws://127.0.0.1:${await closedPort()}`,
      apiKey: options.livekitKeys?.apiKey,
      apiSecret: options.livekitKeys?.apiSecret,
    },
    logger,
  });
  const { url, port } = tcpAddress(await app.listen());
  return { app, url, port };
}
