import { EventEmitter } from "node:events";
import * as net from "node:net";
import type { LiveKitRig } from "@mentra/livekit-rig";
import { describe, expect, it } from "vitest";
import { ExitCode, type RunBridgeOptions, runBridge } from "../src/cli.js";
import type { StartRig } from "../src/embedded-livekit.js";
import type { BridgeServerAddress } from "../src/server.js";
import { tcpAddress } from "./support/tools.js";

const HEALTH_PATH = "/mentra.livekit.bridge.LiveKitBridge/HealthCheck";

interface Run {
  readonly exit: Promise<number>;
  readonly signals: EventEmitter;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly listening: Promise<BridgeServerAddress>;
}

function run(
  env: NodeJS.ProcessEnv,
  argv: string[] = [],
  extra: Partial<RunBridgeOptions> = {},
): Run {
  const signals = new EventEmitter();
  let out = "";
  let err = "";
  let onListening: (address: BridgeServerAddress) => void = () => {};
  const listening = new Promise<BridgeServerAddress>((resolve) => {
    onListening = resolve;
  });
  const exit = runBridge({
    argv,
    env,
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    signals,
    onListening,
    ...extra,
  });
  return { exit, signals, stdout: () => out, stderr: () => err, listening };
}

const LOCAL = { BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0" };

/** The bridge's log: one JSON object per line. */
function logLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function health(url: string): Promise<string> {
  const response = await fetch(`${url}${HEALTH_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  return response.text();
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

describe("runBridge", () => {
  it("prints the settings table for --help and starts nothing", async () => {
    const bridge = run({}, ["--help"]);
    expect(await bridge.exit).toBe(ExitCode.Ok);
    expect(bridge.stdout()).toMatch(/BRIDGE_PORT +9090 /);
    expect(bridge.stderr()).toBe("");
  });

  it("exits 2 on an unknown argument", async () => {
    const bridge = run({}, ["--port=1"]);
    expect(await bridge.exit).toBe(ExitCode.Usage);
    expect(bridge.stderr()).toContain('Unknown argument "--port=1"');
  });

  it("exits 2 listing every invalid setting", async () => {
    const bridge = run({ BRIDGE_PORT: "abc", LOG_LEVEL: "loud" });
    expect(await bridge.exit).toBe(ExitCode.Usage);
    expect(bridge.stderr()).toContain("BRIDGE_PORT: expected");
    expect(bridge.stderr()).toContain("LOG_LEVEL: expected");
  });

  it("serves until SIGINT, then drains, frees the port and exits 0", async () => {
    const bridge = run({ ...LOCAL, LIVEKIT_URL: "ws://127.0.0.1:7880" });
    const address = tcpAddress(await bridge.listening);
    expect(await health(address.url)).toContain('"status":"SERVING"');
    expect(logLines(bridge.stderr())).toContainEqual(
      expect.objectContaining({
        level: "info",
        msg: "bridge listening",
        port: address.port,
        livekit: "ws://127.0.0.1:7880",
      }),
    );
    bridge.signals.emit("SIGINT", "SIGINT");
    expect(await bridge.exit).toBe(ExitCode.Ok);
    expect(await portIsFree(address.port)).toBe(true);
    expect(bridge.stderr()).toContain("bridge stopped");
  });

  it("drains and exits 3 once resident memory passes RECYCLE_RSS_MB, saying why", async () => {
    const bridge = run({
      ...LOCAL,
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      RECYCLE_RSS_MB: "1",
      RECYCLE_CHECK_MS: "50",
    });
    const address = tcpAddress(await bridge.listening);
    expect(await bridge.exit).toBe(ExitCode.Recycle);
    expect(await portIsFree(address.port)).toBe(true);
    const lines = logLines(bridge.stderr());
    const recycle = lines.find((line) => line.level === "error" && line.limitMb === 1);
    expect(recycle?.msg).toContain("RECYCLE_RSS_MB");
    expect(Number(recycle?.rssMb)).toBeGreaterThan(1);
    expect(bridge.stderr()).toContain("bridge stopped");
  });

  it("keeps serving under RECYCLE_RSS_MB", async () => {
    const bridge = run({
      ...LOCAL,
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      RECYCLE_RSS_MB: "1000000",
      RECYCLE_CHECK_MS: "20",
    });
    const address = tcpAddress(await bridge.listening);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await health(address.url)).toContain('"status":"SERVING"');
    bridge.signals.emit("SIGTERM", "SIGTERM");
    expect(await bridge.exit).toBe(ExitCode.Ok);
  });

  it("exits 1 when the port is taken", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", () => resolve()));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const bridge = run({ ...LOCAL, BRIDGE_PORT: String(port), LIVEKIT_URL: "ws://lk:7880" });
      expect(await bridge.exit).toBe(ExitCode.Failure);
      expect(bridge.stderr()).toContain("EADDRINUSE");
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it("starts the embedded LiveKit when LIVEKIT_URL is empty, and stops it after the server", async () => {
    const events: string[] = [];
    let listeningPort = 0;
    const startRig: StartRig = async (options) => {
      events.push(`start isolate=${options.isolate}`);
      const rig: LiveKitRig = {
        url: "ws://10.1.2.3:7880",
        httpUrl: "http://10.1.2.3:7880",
        apiKey: "devkey",
        apiSecret: "devsecret",
        namespace: "mlk-test",
        network: undefined,
        stopServer: () => Promise.reject(new Error("not in this test")),
        startServer: () => Promise.reject(new Error("not in this test")),
        restart: () => Promise.reject(new Error("not in this test")),
        close: async () => {
          events.push(`rig closed, port free=${await portIsFree(listeningPort)}`);
        },
      };
      logLine = options.onLogLine;
      return rig;
    };
    let logLine: ((line: string) => void) | undefined;
    const bridge = run({ ...LOCAL, LIVEKIT_EMBEDDED_ISOLATE: "off" }, [], { startRig });
    listeningPort = tcpAddress(await bridge.listening).port;
    // livekit-server's own lines go through the bridge's scrubbed log, not to stderr raw.
    logLine?.(
      "WARN could not validate token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig for devsecret",
    );
    expect(logLines(bridge.stderr())).toContainEqual(
      expect.objectContaining({
        level: "warn",
        msg: "livekit-server",
        line: "WARN could not validate token [redacted] for [redacted]",
      }),
    );
    expect(bridge.stderr()).not.toContain("devsecret");
    expect(logLines(bridge.stderr())).toContainEqual(
      expect.objectContaining({ livekit: "ws://10.1.2.3:7880", embeddedLiveKit: true }),
    );
    // What npm start prints for pointing the cloud and a device at the embedded LiveKit.
    expect(bridge.stdout()).toContain(`LIVEKIT_GRPC_BRIDGE_URL=127.0.0.1:${listeningPort}\n`);
    expect(bridge.stdout()).toContain("  LIVEKIT_URL=ws://10.1.2.3:7880\n");
    expect(bridge.stdout()).toContain("  LIVEKIT_API_KEY=devkey\n");
    expect(bridge.stdout()).toContain("  LIVEKIT_API_SECRET=devsecret\n");
    bridge.signals.emit("SIGTERM", "SIGTERM");
    expect(await bridge.exit).toBe(ExitCode.Ok);
    expect(events).toEqual(["start isolate=off", "rig closed, port free=true"]);
  });

  it("prints where the bridge and an external LiveKit are, but no key or secret", async () => {
    const secret = "an-external-livekit-secret-0123456789";
    const bridge = run({
      ...LOCAL,
      LIVEKIT_URL: "wss://livekit.example.com",
      LIVEKIT_API_KEY: "APIexternalkey",
      LIVEKIT_API_SECRET: secret,
    });
    const { port } = tcpAddress(await bridge.listening);
    expect(bridge.stdout()).toContain(`LIVEKIT_GRPC_BRIDGE_URL=127.0.0.1:${port}\n`);
    expect(bridge.stdout()).toContain("LiveKit: wss://livekit.example.com (external");
    expect(bridge.stdout()).not.toContain(secret);
    expect(bridge.stdout()).not.toContain("APIexternalkey");
    expect(bridge.stderr()).not.toContain(secret);
    bridge.signals.emit("SIGTERM", "SIGTERM");
    expect(await bridge.exit).toBe(ExitCode.Ok);
  });

  it("exits 1 naming the file when the TLS certificate cannot be read", async () => {
    const bridge = run({
      ...LOCAL,
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      BRIDGE_TLS_CERT: "/nonexistent/cert.pem",
      BRIDGE_TLS_KEY: "/nonexistent/key.pem",
    });
    expect(await bridge.exit).toBe(ExitCode.Failure);
    expect(logLines(bridge.stderr())).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "could not set the bridge up",
        error: expect.stringContaining("/nonexistent/cert.pem"),
      }),
    );
  });

  it("serves at once, then exits 1 saying why when rtc-node cannot load", async () => {
    let failLoad: (error: Error) => void = () => {};
    const bridge = run({ ...LOCAL, LIVEKIT_URL: "ws://127.0.0.1:7880" }, [], {
      warmLiveKit: () =>
        new Promise((_resolve, reject) => {
          failLoad = reject;
        }),
    });
    const address = tcpAddress(await bridge.listening);
    expect(await health(address.url)).toContain('"status":"SERVING"');
    failLoad(new Error("Cannot find module '@livekit/rtc-ffi-bindings'"));
    expect(await bridge.exit).toBe(ExitCode.Failure);
    expect(await portIsFree(address.port)).toBe(true);
    expect(logLines(bridge.stderr())).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "could not load rtc-node: no room can be joined, exiting",
        error: expect.stringContaining("rtc-ffi-bindings"),
      }),
    );
  });

  it("exits 1 when the embedded LiveKit cannot start", async () => {
    const startRig: StartRig = () => Promise.reject(new Error("livekit-server not found"));
    const bridge = run({ ...LOCAL }, [], { startRig });
    expect(await bridge.exit).toBe(ExitCode.Failure);
    expect(bridge.stderr()).toContain("livekit-server not found");
  });
});
