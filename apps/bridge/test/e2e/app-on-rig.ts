import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import type { LiveKitRig } from "@mentra/livekit-rig";
import type { BridgeApp } from "../../src/app.js";
import { startApp } from "../support/app.js";

/** The whole bridge app (as `npm start` wires it: limits, metrics, probes) on a rig's LiveKit. */
export interface AppOnRig {
  readonly app: BridgeApp;
  readonly url: string;
  /** gRPC over HTTP/2 (binary protobuf). */
  readonly grpc: Client<typeof LiveKitBridge>;
  /** Connect with JSON: HTTP/1.1 for unary and server streams, HTTP/2 for StreamAudio. */
  readonly connectJson: Client<typeof LiveKitBridge>;
  readonly connectJsonH2: Client<typeof LiveKitBridge>;
  close(): Promise<void>;
}

/** Starts the app with `env` settings, minting tokens with the rig's keys. */
export async function startAppOnRig(
  livekit: LiveKitRig,
  env: NodeJS.ProcessEnv = {},
): Promise<AppOnRig> {
  const { app, url } = await startApp({
    env,
    livekitUrl: livekit.url,
    livekitKeys: { apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
  });
  return {
    app,
    url,
    grpc: createClient(LiveKitBridge, createGrpcTransport({ baseUrl: url })),
    connectJson: createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: false }),
    ),
    connectJsonH2: createClient(
      LiveKitBridge,
      createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: false }),
    ),
    close: () => app.close(),
  };
}
