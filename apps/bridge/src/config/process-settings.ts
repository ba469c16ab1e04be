import { NATIVE_LOG_LEVELS } from "@mentra/livekit-native-logs/levels";
import { z } from "zod/v3";
import { integer, isLiveKitUrl, list, oneOf, text } from "./setting.js";

/** How much the bridge logs; each level includes the ones after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Whether the embedded livekit-server runs in a network namespace of its own. */
export const ISOLATE_MODES = ["auto", "on", "off"] as const;

/** A mode of {@link ISOLATE_MODES}: "auto" isolates when the machine allows it. */
export type IsolateMode = (typeof ISOLATE_MODES)[number];

const PORT_RANGE = { min: 0, max: 65_535 } as const;

/**
 * The process's settings: where it listens, which LiveKit it uses, what it logs, how it
 * shuts down and recycles. BRIDGE_PORT and PORT fill no field of their own: the loader
 * combines them with the socket settings into `port` and `unixSocket`.
 */
export const PROCESS_SETTINGS = {
  BRIDGE_PORT: integer({
    ...PORT_RANGE,
    defaultText: "9090",
    description:
      "TCP port for gRPC, Connect and gRPC-Web (HTTP/2 and HTTP/1.1); 0 picks a free one. Wins over PORT; with LIVEKIT_GRPC_SOCKET it adds a TCP listener.",
  }),
  PORT: integer({
    ...PORT_RANGE,
    description:
      "The deployed Go bridge's name for the TCP port: read only when BRIDGE_PORT and LIVEKIT_GRPC_SOCKET are unset (the cloud's container sets PORT for the cloud itself).",
  }),
  BRIDGE_HOST: text({
    field: "host",
    schema: z.string().regex(/^[^\s/]+$/),
    default: "0.0.0.0",
    expected: "an address or host name without spaces",
    description: "Address to listen on.",
  }),
  LIVEKIT_URL: text({
    field: "livekitUrl",
    schema: z.string().refine(isLiveKitUrl),
    defaultText: "(embedded)",
    expected: "a ws://, wss://, http:// or https:// URL",
    description: "LiveKit server for JoinRoom; empty starts an embedded livekit-server.",
  }),
  LIVEKIT_API_KEY: text({
    field: "livekitApiKey",
    expected: "a key",
    requires: "LIVEKIT_API_SECRET",
    description: "API key for LIVEKIT_URL; only needed to mint tokens, ignored when embedded.",
  }),
  LIVEKIT_API_SECRET: text({
    field: "livekitApiSecret",
    expected: "a secret",
    requires: "LIVEKIT_API_KEY",
    description: "API secret paired with LIVEKIT_API_KEY.",
    secret: true,
  }),
  LIVEKIT_URL_ALLOWLIST: list({
    field: "livekitUrlAllowlist",
    valid: isLiveKitUrl,
    expected: "a comma-separated list of ws://, wss://, http:// or https:// URLs",
    description:
      "Other LiveKit servers a JoinRoom without a token may name: the bridge sends tokens it mints only to LIVEKIT_URL (or the embedded LiveKit) and these.",
  }),
  LIVEKIT_EMBEDDED_ISOLATE: oneOf(ISOLATE_MODES, {
    field: "livekitEmbeddedIsolate",
    default: "auto",
    description:
      "Run the embedded livekit-server in its own network namespace (auto: when possible).",
  }),
  LOG_LEVEL: oneOf(LOG_LEVELS, {
    field: "logLevel",
    default: "info",
    description: "Least severe level that is logged.",
  }),
  LIVEKIT_NATIVE_LOG_LEVEL: oneOf(NATIVE_LOG_LEVELS, {
    field: "nativeLogLevel",
    default: "off",
    description:
      "LiveKit's native (Rust/WebRTC) log lines written through the bridge's scrubbed log at this level or more severe; off: none, and RUST_LOG is ignored (native lines can hold tokens). Costs CPU when on.",
  }),
  SHUTDOWN_TIMEOUT_MS: integer({
    field: "shutdownTimeoutMs",
    min: 0,
    max: 600_000,
    unit: "milliseconds",
    default: 10_000,
    description:
      "On SIGINT/SIGTERM, how long playbacks, then open calls, may finish before they are cut.",
  }),
  HANDOFF_DRAIN_MS: integer({
    field: "handoffDrainMs",
    min: 0,
    max: 600_000,
    unit: "milliseconds",
    default: 5_000,
    description:
      "Shutdown: AudioSession clients are told to move their sessions and get this long to do so.",
  }),
  PLAYBACK_DRAIN_MS: integer({
    field: "playbackDrainMs",
    min: 0,
    max: 600_000,
    unit: "milliseconds",
    default: 10_000,
    description: "On SIGINT/SIGTERM, how long running playbacks may finish before sessions leave.",
  }),
  RECYCLE_RSS_MB: integer({
    field: "recycleRssMb",
    min: 0,
    max: 1_048_576,
    unit: "MB",
    zero: "never",
    default: 2_048,
    description:
      "Past this resident memory the bridge logs an error, drains as on SIGTERM (clients hand their sessions over) and exits with code 3, for its supervisor to restart it: rtc-node keeps a few hundred kB of native memory of every room it left. Set it below the container's memory limit.",
  }),
  RECYCLE_CHECK_MS: integer({
    field: "recycleCheckMs",
    min: 10,
    max: 3_600_000,
    unit: "milliseconds",
    default: 10_000,
    description: "How often resident memory is compared with RECYCLE_RSS_MB.",
  }),
  BRIDGE_CONFIG_FILE: text({
    field: "configFile",
    expected: "a readable file of NAME=value lines naming only these settings",
    description: "Settings file (dotenv format); environment variables override it.",
  }),
};
