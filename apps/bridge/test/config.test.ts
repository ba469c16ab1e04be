import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, renderConfigHelp } from "../src/config.js";

function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the environment, expected a ConfigError");
}

describe("loadConfig", () => {
  it("applies the defaults to an empty environment", () => {
    expect(loadConfig({})).toEqual({
      port: 9090,
      host: "0.0.0.0",
      livekitUrl: undefined,
      livekitApiKey: undefined,
      livekitApiSecret: undefined,
      livekitUrlAllowlist: [],
      livekitEmbeddedIsolate: "auto",
      logLevel: "info",
      nativeLogLevel: "off",
      shutdownTimeoutMs: 10_000,
      playbackDrainMs: 10_000,
      recycleRssMb: 2_048,
      recycleCheckMs: 10_000,
      handoffDrainMs: 5_000,
      configFile: undefined,
      identityTemplate: "cloud-agent:{userId}",
      tokenTtlSeconds: 3600,
      connectTimeoutMs: 10_000,
      streamGraceMs: 30_000,
      pcmByteOrder: "auto",
      receiveFrameMs: 20,
      cloudQueueMs: 10_000,
      cloudMaxDelayMs: 200,
      roomStatsIntervalMs: 5000,
      replayMs: 2000,
      publishAtJoin: [],
      trackBufferMs: 200,
      trackSourceQueueMs: 100,
      trackJitterBufferMs: 60,
      trackMaxLateMs: 100,
      maxChunkBytes: 1_048_576,
      apiKey: undefined,
      unixSocket: undefined,
      tls: undefined,
      maxSessions: 1_000,
      maxStreamsPerConnection: 1_000,
      maxConnections: 0,
      firstRequestTimeoutMs: 10_000,
      idleConnectionTimeoutMs: 300_000,
      maxCalls: 4_000,
      firstMessageTimeoutMs: 10_000,
      joinRatePerMinute: 30,
      joinBurst: 5,
      maxJoinsInFlight: 0,
      joinQueueMax: 100,
      joinQueueTimeoutMs: 10_000,
      playbackWindowBytes: 1_048_576,
      playbackBufferTotalBytes: 33_554_432,
      playbackConnectTimeoutMs: 5_000,
      playbackIdleTimeoutMs: 10_000,
      playbackTotalTimeoutMs: 120_000,
      playbackMaxBytes: 52_428_800,
      playbackMaxRedirects: 5,
      playbackProgressMs: 250,
      playbackAllowHosts: [],
    });
  });

  it("treats blank values as unset", () => {
    const config = loadConfig({ BRIDGE_PORT: "", LIVEKIT_URL: "  ", LOG_LEVEL: "" });
    expect([config.port, config.livekitUrl, config.logLevel]).toEqual([9090, undefined, "info"]);
  });

  it("reads every setting", () => {
    expect(
      loadConfig({
        BRIDGE_PORT: "0",
        BRIDGE_HOST: "127.0.0.1",
        LIVEKIT_URL: "wss://livekit.example.com",
        LIVEKIT_API_KEY: "key",
        LIVEKIT_API_SECRET: "secret",
        LIVEKIT_EMBEDDED_ISOLATE: "OFF",
        LOG_LEVEL: "debug",
        SHUTDOWN_TIMEOUT_MS: "2500",
        PLAYBACK_DRAIN_MS: "1500",
        RECYCLE_RSS_MB: "1500",
        RECYCLE_CHECK_MS: "2500",
        HANDOFF_DRAIN_MS: "700",
        LIVEKIT_IDENTITY_TEMPLATE: "bridge-{userId}",
        LIVEKIT_TOKEN_TTL_SECONDS: "5",
        LIVEKIT_CONNECT_TIMEOUT_MS: "1500",
        STREAM_GRACE_MS: "0",
        PCM_BYTE_ORDER: "BIG",
        RECEIVE_FRAME_MS: "10",
        CLOUD_QUEUE_MS: "500",
        CLOUD_MAX_DELAY_MS: "0",
        ROOM_STATS_INTERVAL_MS: "0",
        REPLAY_MS: "500",
        PUBLISH_AT_JOIN: " 2, 0,2 ",
        TRACK_BUFFER_MS: "50",
        TRACK_SOURCE_QUEUE_MS: "40",
        TRACK_JITTER_BUFFER_MS: "0",
        TRACK_MAX_LATE_MS: "0",
        MAX_CHUNK_BYTES: "4096",
        BRIDGE_API_KEY: "0123456789abcdef",
        BRIDGE_UNIX_SOCKET: "/run/bridge.sock",
        BRIDGE_TLS_CERT: "/etc/bridge/cert.pem",
        BRIDGE_TLS_KEY: "/etc/bridge/key.pem",
        MAX_SESSIONS: "7",
        MAX_STREAMS_PER_CONNECTION: "64",
        MAX_CONNECTIONS: "300",
        FIRST_REQUEST_TIMEOUT_MS: "2000",
        IDLE_CONNECTION_TIMEOUT_MS: "60000",
        MAX_CALLS: "500",
        FIRST_MESSAGE_TIMEOUT_MS: "3000",
        JOIN_RATE_PER_MINUTE: "12",
        JOIN_BURST: "2",
        MAX_JOINS_IN_FLIGHT: "3",
        JOIN_QUEUE_MAX: "9",
        JOIN_QUEUE_TIMEOUT_MS: "1500",
        PLAYBACK_WINDOW_BYTES: "131072",
        PLAYBACK_BUFFER_TOTAL_BYTES: "1048576",
        PLAYBACK_CONNECT_TIMEOUT_MS: "700",
        PLAYBACK_IDLE_TIMEOUT_MS: "800",
        PLAYBACK_TOTAL_TIMEOUT_MS: "9000",
        PLAYBACK_MAX_BYTES: "2048",
        PLAYBACK_MAX_REDIRECTS: "0",
        PLAYBACK_PROGRESS_MS: "100",
        PLAYBACK_ALLOW_HOSTS: " 127.0.0.1, 10.0.0.0/8 ,audio.internal,",
        LIVEKIT_URL_ALLOWLIST: "wss://lk2.example.com, ws://10.1.2.3:7880",
      }),
    ).toEqual({
      port: 0,
      host: "127.0.0.1",
      livekitUrl: "wss://livekit.example.com",
      livekitApiKey: "key",
      livekitApiSecret: "secret",
      livekitUrlAllowlist: ["wss://lk2.example.com", "ws://10.1.2.3:7880"],
      livekitEmbeddedIsolate: "off",
      logLevel: "debug",
      nativeLogLevel: "off",
      shutdownTimeoutMs: 2500,
      playbackDrainMs: 1500,
      recycleRssMb: 1500,
      recycleCheckMs: 2500,
      handoffDrainMs: 700,
      configFile: undefined,
      identityTemplate: "bridge-{userId}",
      tokenTtlSeconds: 5,
      connectTimeoutMs: 1500,
      streamGraceMs: 0,
      pcmByteOrder: "big",
      receiveFrameMs: 10,
      cloudQueueMs: 500,
      cloudMaxDelayMs: 0,
      roomStatsIntervalMs: 0,
      replayMs: 500,
      publishAtJoin: [2, 0],
      trackBufferMs: 50,
      trackSourceQueueMs: 40,
      trackJitterBufferMs: 0,
      trackMaxLateMs: 0,
      maxChunkBytes: 4096,
      apiKey: "0123456789abcdef",
      unixSocket: "/run/bridge.sock",
      tls: { certFile: "/etc/bridge/cert.pem", keyFile: "/etc/bridge/key.pem" },
      maxSessions: 7,
      maxStreamsPerConnection: 64,
      maxConnections: 300,
      firstRequestTimeoutMs: 2000,
      idleConnectionTimeoutMs: 60_000,
      maxCalls: 500,
      firstMessageTimeoutMs: 3000,
      joinRatePerMinute: 12,
      joinBurst: 2,
      maxJoinsInFlight: 3,
      joinQueueMax: 9,
      joinQueueTimeoutMs: 1_500,
      playbackWindowBytes: 131_072,
      playbackBufferTotalBytes: 1_048_576,
      playbackConnectTimeoutMs: 700,
      playbackIdleTimeoutMs: 800,
      playbackTotalTimeoutMs: 9000,
      playbackMaxBytes: 2048,
      playbackMaxRedirects: 0,
      playbackProgressMs: 100,
      playbackAllowHosts: ["127.0.0.1", "10.0.0.0/8", "audio.internal"],
    });
  });

  it("reads the deployed Go bridge's names, PORT and LIVEKIT_GRPC_SOCKET, ours winning", () => {
    const listeners = (env: NodeJS.ProcessEnv) => {
      const { port, unixSocket } = loadConfig(env);
      return { port, unixSocket };
    };
    // The deployed container: the socket only, and PORT is the cloud's own port.
    expect(listeners({ LIVEKIT_GRPC_SOCKET: "/tmp/livekit-bridge.sock", PORT: "80" })).toEqual({
      port: undefined,
      unixSocket: "/tmp/livekit-bridge.sock",
    });
    // Without a socket, PORT is the TCP port, as for the Go bridge.
    expect(listeners({ PORT: "9191" })).toEqual({ port: 9191, unixSocket: undefined });
    expect(listeners({ PORT: "9191", BRIDGE_PORT: "9292" })).toEqual({
      port: 9292,
      unixSocket: undefined,
    });
    // BRIDGE_PORT adds a TCP listener to the deployed socket.
    expect(listeners({ LIVEKIT_GRPC_SOCKET: "/run/a.sock", BRIDGE_PORT: "0" })).toEqual({
      port: 0,
      unixSocket: "/run/a.sock",
    });
    // Both socket names: ours wins, and serves besides TCP as it always did.
    expect(
      listeners({
        LIVEKIT_GRPC_SOCKET: "/run/a.sock",
        BRIDGE_UNIX_SOCKET: "/run/b.sock",
        PORT: "80",
      }),
    ).toEqual({ port: 9090, unixSocket: "/run/b.sock" });
    expect(listeners({ BRIDGE_UNIX_SOCKET: "/run/b.sock", PORT: "9191" })).toEqual({
      port: 9191,
      unixSocket: "/run/b.sock",
    });
    const error = configErrorOf({ LIVEKIT_GRPC_SOCKET: "relative.sock", PORT: "http" });
    expect(error.issues.map((issue) => issue.name)).toEqual(["PORT", "LIVEKIT_GRPC_SOCKET"]);
  });

  it("reports every invalid value at once, with what was expected and given", () => {
    const error = configErrorOf({
      BRIDGE_PORT: "abc",
      LOG_LEVEL: "loud",
      SHUTDOWN_TIMEOUT_MS: "-5",
      LIVEKIT_URL: "livekit.local:7880",
      LIVEKIT_EMBEDDED_ISOLATE: "maybe",
    });
    expect(error.issues).toEqual([
      { name: "BRIDGE_PORT", expected: "an integer from 0 to 65535", given: '"abc"' },
      {
        name: "LIVEKIT_URL",
        expected: "a ws://, wss://, http:// or https:// URL",
        given: '"livekit.local:7880"',
      },
      { name: "LIVEKIT_EMBEDDED_ISOLATE", expected: "one of auto, on, off", given: '"maybe"' },
      { name: "LOG_LEVEL", expected: "one of debug, info, warn, error", given: '"loud"' },
      {
        name: "SHUTDOWN_TIMEOUT_MS",
        expected: "an integer number of milliseconds from 0 to 600000",
        given: '"-5"',
      },
    ]);
    expect(error.message).toContain('BRIDGE_PORT: expected an integer from 0 to 65535, got "abc"');
    expect(error.message).toContain(
      'LOG_LEVEL: expected one of debug, info, warn, error, got "loud"',
    );
    expect(error.message.split("\n")[0]).toBe("Invalid configuration (5 settings):");
  });

  it("rejects an identity template without {userId}", () => {
    expect(configErrorOf({ LIVEKIT_IDENTITY_TEMPLATE: "cloud-agent" }).issues).toEqual([
      {
        name: "LIVEKIT_IDENTITY_TEMPLATE",
        expected: "a template containing {userId}",
        given: '"cloud-agent"',
      },
    ]);
  });

  it("rejects an allow-list entry that is no host, address or range", () => {
    expect(configErrorOf({ PLAYBACK_ALLOW_HOSTS: "127.0.0.1,10.0.0.0/40" }).issues).toEqual([
      {
        name: "PLAYBACK_ALLOW_HOSTS",
        expected: "a comma-separated list of host names, IP addresses and CIDR ranges",
        given: '"127.0.0.1,10.0.0.0/40"',
      },
    ]);
  });

  it("rejects a LiveKit allow-list entry that is no ws/wss/http/https URL", () => {
    expect(
      configErrorOf({ LIVEKIT_URL_ALLOWLIST: "wss://ok.example.com,lk.example.com" }).issues,
    ).toEqual([
      {
        name: "LIVEKIT_URL_ALLOWLIST",
        expected: "a comma-separated list of ws://, wss://, http:// or https:// URLs",
        given: '"wss://ok.example.com,lk.example.com"',
      },
    ]);
  });

  it("rejects a track id to publish at join beyond 15", () => {
    expect(configErrorOf({ PUBLISH_AT_JOIN: "2,16" }).issues).toEqual([
      {
        name: "PUBLISH_AT_JOIN",
        expected: "comma-separated track ids from 0 to 15, e.g. 2 or 0,2",
        given: '"2,16"',
      },
    ]);
  });

  it("rejects a port above 65535", () => {
    expect(configErrorOf({ BRIDGE_PORT: "70000" }).issues.map((i) => i.name)).toEqual([
      "BRIDGE_PORT",
    ]);
  });

  it("requires the API secret with the API key, without echoing secrets", () => {
    expect(configErrorOf({ LIVEKIT_API_KEY: "key" }).issues).toEqual([
      {
        name: "LIVEKIT_API_SECRET",
        expected: "a secret, set together with LIVEKIT_API_KEY",
        given: "(unset)",
      },
    ]);
    const error = configErrorOf({ LIVEKIT_API_SECRET: "s3cr3t-value", BRIDGE_PORT: "x" });
    expect(error.issues.map((i) => i.name)).toEqual(["BRIDGE_PORT", "LIVEKIT_API_KEY"]);
    expect(error.message).not.toContain("s3cr3t-value");
  });

  it("requires the TLS key with the certificate and a long API key, hiding the key", () => {
    const error = configErrorOf({ BRIDGE_TLS_CERT: "/c.pem", BRIDGE_API_KEY: "short-key" });
    expect(error.issues).toEqual([
      {
        name: "BRIDGE_API_KEY",
        expected: "a key of at least 16 characters",
        given: "(hidden, 9 characters)",
      },
      {
        name: "BRIDGE_TLS_KEY",
        expected: "a path to a PEM private key, set together with BRIDGE_TLS_CERT",
        given: "(unset)",
      },
    ]);
    expect(error.message).not.toContain("short-key");
  });
});

describe("the settings file", () => {
  const dir = mkdtempSync(join(tmpdir(), "bridge-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads NAME=value lines, with the environment winning", () => {
    const file = join(dir, "bridge.env");
    writeFileSync(
      file,
      "# deployed defaults\nBRIDGE_PORT=7000\nLOG_LEVEL=debug\nSTREAM_GRACE_MS='5000'\n",
    );
    const config = loadConfig({ BRIDGE_CONFIG_FILE: file, LOG_LEVEL: "warn" });
    expect([config.port, config.logLevel, config.streamGraceMs, config.configFile]).toEqual([
      7000,
      "warn",
      5000,
      file,
    ]);
  });

  it("reports a missing file, unknown names and invalid values at once", () => {
    const file = join(dir, "typo.env");
    writeFileSync(file, "BRIDGE_PROT=7000\nSTREAM_GRACE_MS=soon\n");
    expect(configErrorOf({ BRIDGE_CONFIG_FILE: file }).issues).toEqual([
      {
        name: "BRIDGE_PROT",
        expected: "a setting listed by --help (in the settings file)",
        given: `(in ${file})`,
      },
      {
        name: "STREAM_GRACE_MS",
        expected: "an integer number of milliseconds from 0 to 3600000",
        given: '"soon"',
      },
    ]);
    const missing = join(dir, "missing.env");
    expect(configErrorOf({ BRIDGE_CONFIG_FILE: missing }).issues).toEqual([
      {
        name: "BRIDGE_CONFIG_FILE",
        expected: "a readable file of NAME=value lines naming only these settings",
        given: `${JSON.stringify(missing)} (ENOENT)`,
      },
    ]);
  });
});

describe("renderConfigHelp", () => {
  it("lists every setting with its default", () => {
    const help = renderConfigHelp();
    const rows = help.split("\n").filter((line) => /^ {2}[A-Z_]+ /.test(line));
    expect(rows.map((line) => line.trim().split(/\s+/)[0])).toEqual([
      "SETTING",
      "BRIDGE_PORT",
      "PORT",
      "BRIDGE_HOST",
      "LIVEKIT_URL",
      "LIVEKIT_API_KEY",
      "LIVEKIT_API_SECRET",
      "LIVEKIT_URL_ALLOWLIST",
      "LIVEKIT_EMBEDDED_ISOLATE",
      "LOG_LEVEL",
      "LIVEKIT_NATIVE_LOG_LEVEL",
      "SHUTDOWN_TIMEOUT_MS",
      "HANDOFF_DRAIN_MS",
      "PLAYBACK_DRAIN_MS",
      "RECYCLE_RSS_MB",
      "RECYCLE_CHECK_MS",
      "BRIDGE_CONFIG_FILE",
      "LIVEKIT_IDENTITY_TEMPLATE",
      "LIVEKIT_TOKEN_TTL_SECONDS",
      "LIVEKIT_CONNECT_TIMEOUT_MS",
      "STREAM_GRACE_MS",
      "PCM_BYTE_ORDER",
      "RECEIVE_FRAME_MS",
      "CLOUD_QUEUE_MS",
      "CLOUD_MAX_DELAY_MS",
      "REPLAY_MS",
      "ROOM_STATS_INTERVAL_MS",
      "TRACK_BUFFER_MS",
      "TRACK_SOURCE_QUEUE_MS",
      "TRACK_JITTER_BUFFER_MS",
      "TRACK_MAX_LATE_MS",
      "MAX_CHUNK_BYTES",
      "BRIDGE_API_KEY",
      "BRIDGE_UNIX_SOCKET",
      "LIVEKIT_GRPC_SOCKET",
      "BRIDGE_TLS_CERT",
      "BRIDGE_TLS_KEY",
      "MAX_SESSIONS",
      "MAX_STREAMS_PER_CONNECTION",
      "MAX_CONNECTIONS",
      "FIRST_REQUEST_TIMEOUT_MS",
      "IDLE_CONNECTION_TIMEOUT_MS",
      "MAX_CALLS",
      "FIRST_MESSAGE_TIMEOUT_MS",
      "JOIN_RATE_PER_MINUTE",
      "JOIN_BURST",
      "MAX_JOINS_IN_FLIGHT",
      "JOIN_QUEUE_MAX",
      "JOIN_QUEUE_TIMEOUT_MS",
      "PLAYBACK_WINDOW_BYTES",
      "PLAYBACK_BUFFER_TOTAL_BYTES",
      "PLAYBACK_CONNECT_TIMEOUT_MS",
      "PLAYBACK_IDLE_TIMEOUT_MS",
      "PLAYBACK_TOTAL_TIMEOUT_MS",
      "PLAYBACK_MAX_BYTES",
      "PLAYBACK_MAX_REDIRECTS",
      "PLAYBACK_PROGRESS_MS",
      "PUBLISH_AT_JOIN",
      "PLAYBACK_ALLOW_HOSTS",
    ]);
    expect(help).toMatch(/BRIDGE_PORT +9090 /);
    expect(help).toMatch(/SHUTDOWN_TIMEOUT_MS +10000 /);
    expect(help).toMatch(/LIVEKIT_EMBEDDED_ISOLATE +auto /);
  });
});
