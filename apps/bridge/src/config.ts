import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { NATIVE_LOG_LEVELS, type NativeLogLevel } from "@mentra/livekit-native-logs/levels";
import { z } from "zod/v3";
import { isAllowEntry } from "./playback/url-policy.js";

/** How much the bridge logs; each level includes the ones after it. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A level of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Whether the embedded livekit-server runs in a network namespace of its own. */
export const ISOLATE_MODES = ["auto", "on", "off"] as const;

/** A mode of {@link ISOLATE_MODES}: "auto" isolates when the machine allows it. */
export type IsolateMode = (typeof ISOLATE_MODES)[number];

/** Byte orders a session's device PCM may be read in; "auto" decides from the first audio. */
export const BYTE_ORDER_MODES = ["little", "big", "auto"] as const;

/** A mode of {@link BYTE_ORDER_MODES}. */
export type ByteOrderSetting = (typeof BYTE_ORDER_MODES)[number];

/** The bridge's settings, read once at start from the environment by {@link loadConfig}. */
export interface Config {
  /**
   * TCP port that serves gRPC, Connect and gRPC-Web; 0 picks a free one. Undefined: no TCP
   * listener, only the Unix socket (LIVEKIT_GRPC_SOCKET without BRIDGE_PORT, as deployed).
   */
  readonly port: number | undefined;
  /** Address to listen on, e.g. "0.0.0.0", "127.0.0.1" or "::". */
  readonly host: string;
  /** LiveKit server to join rooms on; undefined starts the embedded LiveKit instead. */
  readonly livekitUrl: string | undefined;
  /** API key for `livekitUrl`; undefined when the cloud sends ready-made tokens. */
  readonly livekitApiKey: string | undefined;
  /** API secret paired with `livekitApiKey`. */
  readonly livekitApiSecret: string | undefined;
  /** LiveKit URLs besides `livekitUrl` that tokens the bridge mints may be sent to. */
  readonly livekitUrlAllowlist: readonly string[];
  /** LiveKit's native log forwarded into the bridge's log (scrubbed); "off" none. */
  readonly nativeLogLevel: NativeLogLevel;
  /** Network isolation of the embedded LiveKit (ignored when `livekitUrl` is set). */
  readonly livekitEmbeddedIsolate: IsolateMode;
  /** Least severe level that is logged. */
  readonly logLevel: LogLevel;
  /** How long a graceful shutdown waits for open calls before cutting them. */
  readonly shutdownTimeoutMs: number;
  /** On shutdown, how long running playbacks may finish before sessions leave. */
  readonly playbackDrainMs: number;
  /** RSS in MB past which the bridge drains and exits to be restarted; 0 never. */
  readonly recycleRssMb: number;
  /** How often RSS is compared with `recycleRssMb`. */
  readonly recycleCheckMs: number;
  /** The settings file read besides the environment, if any. */
  readonly configFile: string | undefined;
  /** Identity the bridge joins with when it mints tokens; `{userId}` is replaced. */
  readonly identityTemplate: string;
  /** Lifetime of tokens the bridge mints. */
  readonly tokenTtlSeconds: number;
  /** How long JoinRoom (and a rejoin) waits for LiveKit before failing. */
  readonly connectTimeoutMs: number;
  /** How long a session stays in its room without a StreamAudio stream. */
  readonly streamGraceMs: number;
  /** Default byte order of device PCM in data packets. */
  readonly pcmByteOrder: ByteOrderSetting;
  /** Default duration of room-to-cloud chunks from microphone tracks. */
  readonly receiveFrameMs: number;
  /** Room-to-cloud audio held per stream for a slow reader before the oldest is dropped. */
  readonly cloudQueueMs: number;
  /** On shutdown, how long AudioSession clients get to move their sessions elsewhere. */
  readonly handoffDrainMs: number;
  /** Room audio kept after sending, so an AudioSession resume loses nothing (ms); 0 none. */
  readonly replayMs: number;
  /** How often each session reads its room link's WebRTC statistics; 0 never. */
  readonly roomStatsIntervalMs: number;
  /** Cloud-to-room audio buffered per track beyond the AudioSource queue before pacing the sender. */
  readonly trackBufferMs: number;
  /** Audio queued inside each published track's AudioSource. */
  readonly trackSourceQueueMs: number;
  /** Largest pcm_data accepted in one AudioChunk. */
  readonly maxChunkBytes: number;
  /** Bearer key every RPC but health and reflection must carry; undefined: no check. */
  readonly apiKey: string | undefined;
  /** Unix socket to serve on (besides the TCP port, if any); undefined: none. */
  readonly unixSocket: string | undefined;
  /** PEM certificate and key files for TLS on the TCP port; undefined: cleartext. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  /** Most sessions at once; a JoinRoom for a new user beyond it is ResourceExhausted. */
  readonly maxSessions: number;
  /** HTTP/2 streams one connection may have open at once. */
  readonly maxStreamsPerConnection: number;
  /** Connections open at once (TCP and Unix socket); 0 derives it from the descriptor limit. */
  readonly maxConnections: number;
  /** How long a new connection may take to send its first complete request headers. */
  readonly firstRequestTimeoutMs: number;
  /** How long a connection with no open call is kept. */
  readonly idleConnectionTimeoutMs: number;
  /** Calls (HTTP/2 streams and HTTP/1.1 requests) open at once, health checks' reserve included. */
  readonly maxCalls: number;
  /** How long a call may wait for the first bytes of its request message. */
  readonly firstMessageTimeoutMs: number;
  /** JoinRoom calls one user may make per minute, sustained. */
  readonly joinRatePerMinute: number;
  /** JoinRoom calls one user may make in a burst. */
  readonly joinBurst: number;
  /** Room connects (JoinRoom and rejoins) running at once, process-wide. */
  readonly maxJoinsInFlight: number;
  /** Connects waiting for a slot; past it JoinRoom is ResourceExhausted. */
  readonly joinQueueMax: number;
  /** Longest wait for a join slot; past it JoinRoom is Unavailable. */
  readonly joinQueueTimeoutMs: number;
  /** PlayAudio: compressed audio held ahead of play-out per playback. */
  readonly playbackWindowBytes: number;
  /** PlayAudio: compressed audio held ahead of play-out by all playbacks together. */
  readonly playbackBufferTotalBytes: number;
  /** PlayAudio: from sending a request (each redirect) to its response headers. */
  readonly playbackConnectTimeoutMs: number;
  /** PlayAudio: longest pause in the body of a download. */
  readonly playbackIdleTimeoutMs: number;
  /** PlayAudio: longest whole download, redirects included. */
  readonly playbackTotalTimeoutMs: number;
  /** PlayAudio: largest audio file. */
  readonly playbackMaxBytes: number;
  /** PlayAudio: redirects followed. */
  readonly playbackMaxRedirects: number;
  /** PlayAudio: spacing of PROGRESS events. */
  readonly playbackProgressMs: number;
  /** PlayAudio: host names, addresses and CIDR ranges allowed although internal. */
  readonly playbackAllowHosts: readonly string[];
  /** Tracks published when a session joins, so their first audio need not wait for it. */
  readonly publishAtJoin: readonly number[];
}

/** One setting that failed validation: which, what it should be, what it was. */
export interface ConfigIssue {
  /** Environment variable name, e.g. "BRIDGE_PORT". */
  readonly name: string;
  /** What the setting accepts, in words. */
  readonly expected: string;
  /** The value given, quoted, or a placeholder for unset or secret values. */
  readonly given: string;
}

/** Thrown by {@link loadConfig}; lists every invalid setting, not only the first. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Each invalid setting, in the order of the settings table. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.name}: expected ${i.expected}, got ${i.given}`);
    const noun = issues.length === 1 ? "setting" : "settings";
    super(
      `Invalid configuration (${issues.length} ${noun}):\n${lines.join("\n")}\n` +
        "Run with --help to list every setting.",
    );
    this.issues = issues;
  }
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .refine((n) => n >= min && n <= max);

const lowercaseEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z.string().toLowerCase().pipe(z.enum(values));

const livekitUrl = z.string().refine((value) => {
  try {
    return ["ws:", "wss:", "http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
});

// Unset and blank variables both mean "use the default": container env files often
// carry `NAME=` lines for settings nobody chose. Defaults are given as the text a variable
// would hold, and parsed like one. zod's v3 API: zod 4's own costs the bridge ~200 ms of
// CPU at start (its import and schema set-up), and a restarted bridge must answer
// HealthCheck within 300 ms.
/** The non-empty, trimmed entries of a comma-separated setting. */
function commaList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

const envSchema = z.object({
  BRIDGE_PORT: integer(0, 65535).optional(),
  PORT: integer(0, 65535).optional(),
  BRIDGE_HOST: z
    .string()
    .regex(/^[^\s/]+$/)
    .default("0.0.0.0"),
  LIVEKIT_URL: livekitUrl.optional(),
  LIVEKIT_API_KEY: z.string().optional(),
  LIVEKIT_API_SECRET: z.string().optional(),
  LIVEKIT_URL_ALLOWLIST: z
    .string()
    .transform(commaList)
    .refine((entries) => entries.every((entry) => livekitUrl.safeParse(entry).success))
    .default(""),
  LIVEKIT_EMBEDDED_ISOLATE: lowercaseEnum(ISOLATE_MODES).default("auto"),
  LOG_LEVEL: lowercaseEnum(LOG_LEVELS).default("info"),
  LIVEKIT_NATIVE_LOG_LEVEL: lowercaseEnum(NATIVE_LOG_LEVELS).default("off"),
  SHUTDOWN_TIMEOUT_MS: integer(0, 600_000).default(String(10_000)),
  PLAYBACK_DRAIN_MS: integer(0, 600_000).default(String(10_000)),
  RECYCLE_RSS_MB: integer(0, 1_048_576).default(String(2_048)),
  RECYCLE_CHECK_MS: integer(10, 3_600_000).default(String(10_000)),
  HANDOFF_DRAIN_MS: integer(0, 600_000).default(String(5_000)),
  BRIDGE_CONFIG_FILE: z.string().optional(),
  LIVEKIT_IDENTITY_TEMPLATE: z.string().includes("{userId}").default("cloud-agent:{userId}"),
  LIVEKIT_TOKEN_TTL_SECONDS: integer(1, 7 * 86_400).default(String(3_600)),
  LIVEKIT_CONNECT_TIMEOUT_MS: integer(100, 120_000).default(String(10_000)),
  STREAM_GRACE_MS: integer(0, 3_600_000).default(String(30_000)),
  PCM_BYTE_ORDER: lowercaseEnum(BYTE_ORDER_MODES).default("auto"),
  RECEIVE_FRAME_MS: integer(10, 100).default(String(20)),
  CLOUD_QUEUE_MS: integer(20, 60_000).default(String(10_000)),
  ROOM_STATS_INTERVAL_MS: integer(0, 3_600_000).default(String(5_000)),
  REPLAY_MS: integer(0, 60_000).default(String(2_000)),
  TRACK_BUFFER_MS: integer(10, 10_000).default(String(200)),
  TRACK_SOURCE_QUEUE_MS: integer(10, 5_000).default(String(100)),
  MAX_CHUNK_BYTES: integer(2, 16 * 1024 * 1024).default(String(1024 * 1024)),
  BRIDGE_API_KEY: z.string().min(16).optional(),
  BRIDGE_UNIX_SOCKET: z.string().startsWith("/").optional(),
  LIVEKIT_GRPC_SOCKET: z.string().startsWith("/").optional(),
  BRIDGE_TLS_CERT: z.string().optional(),
  BRIDGE_TLS_KEY: z.string().optional(),
  MAX_SESSIONS: integer(1, 100_000).default(String(1_000)),
  MAX_STREAMS_PER_CONNECTION: integer(1, 100_000).default(String(1_000)),
  MAX_CONNECTIONS: integer(0, 1_000_000).default(String(0)),
  FIRST_REQUEST_TIMEOUT_MS: integer(100, 600_000).default(String(10_000)),
  IDLE_CONNECTION_TIMEOUT_MS: integer(1_000, 86_400_000).default(String(300_000)),
  MAX_CALLS: integer(20, 1_000_000).default(String(4_000)),
  FIRST_MESSAGE_TIMEOUT_MS: integer(100, 600_000).default(String(10_000)),
  JOIN_RATE_PER_MINUTE: integer(1, 60_000).default(String(30)),
  JOIN_BURST: integer(1, 1_000).default(String(5)),
  MAX_JOINS_IN_FLIGHT: integer(1, 1_000).default(String(4)),
  JOIN_QUEUE_MAX: integer(0, 100_000).default(String(100)),
  JOIN_QUEUE_TIMEOUT_MS: integer(100, 600_000).default(String(10_000)),
  PLAYBACK_WINDOW_BYTES: integer(65_536, 256 * 1024 * 1024).default(String(1024 * 1024)),
  PLAYBACK_BUFFER_TOTAL_BYTES: integer(65_536, 4 * 1024 * 1024 * 1024).default(
    String(32 * 1024 * 1024),
  ),
  PLAYBACK_CONNECT_TIMEOUT_MS: integer(100, 120_000).default(String(5_000)),
  PLAYBACK_IDLE_TIMEOUT_MS: integer(100, 120_000).default(String(10_000)),
  PLAYBACK_TOTAL_TIMEOUT_MS: integer(100, 3_600_000).default(String(120_000)),
  PLAYBACK_MAX_BYTES: integer(1_024, 1024 * 1024 * 1024).default(String(50 * 1024 * 1024)),
  PLAYBACK_MAX_REDIRECTS: integer(0, 20).default(String(5)),
  PLAYBACK_PROGRESS_MS: integer(20, 60_000).default(String(250)),
  PUBLISH_AT_JOIN: z
    .string()
    .transform(commaList)
    .refine((entries) => entries.every((entry) => /^(?:[0-9]|1[0-5])$/.test(entry)))
    .transform((entries) => [...new Set(entries.map(Number))])
    .default(""),
  PLAYBACK_ALLOW_HOSTS: z
    .string()
    .transform(commaList)
    .refine((entries) => entries.every(isAllowEntry))
    .default(""),
});

type SettingName = keyof z.input<typeof envSchema>;

interface SettingDoc {
  readonly defaultText: string;
  readonly expected: string;
  readonly description: string;
  readonly secret?: boolean;
}

const SETTINGS: Readonly<Record<SettingName, SettingDoc>> = {
  BRIDGE_PORT: {
    defaultText: "9090",
    expected: "an integer from 0 to 65535",
    description:
      "TCP port for gRPC, Connect and gRPC-Web (HTTP/2 and HTTP/1.1); 0 picks a free one. Wins over PORT; with LIVEKIT_GRPC_SOCKET it adds a TCP listener.",
  },
  PORT: {
    defaultText: "(none)",
    expected: "an integer from 0 to 65535",
    description:
      "The deployed Go bridge's name for the TCP port: read only when BRIDGE_PORT and LIVEKIT_GRPC_SOCKET are unset (the cloud's container sets PORT for the cloud itself).",
  },
  BRIDGE_HOST: {
    defaultText: "0.0.0.0",
    expected: "an address or host name without spaces",
    description: "Address to listen on.",
  },
  LIVEKIT_URL: {
    defaultText: "(embedded)",
    expected: "a ws://, wss://, http:// or https:// URL",
    description: "LiveKit server for JoinRoom; empty starts an embedded livekit-server.",
  },
  LIVEKIT_API_KEY: {
    defaultText: "(none)",
    expected: "a key, set together with LIVEKIT_API_SECRET",
    description: "API key for LIVEKIT_URL; only needed to mint tokens, ignored when embedded.",
  },
  LIVEKIT_API_SECRET: {
    defaultText: "(none)",
    expected: "a secret, set together with LIVEKIT_API_KEY",
    description: "API secret paired with LIVEKIT_API_KEY.",
    secret: true,
  },
  LIVEKIT_URL_ALLOWLIST: {
    defaultText: "(none)",
    expected: "a comma-separated list of ws://, wss://, http:// or https:// URLs",
    description:
      "Other LiveKit servers a JoinRoom without a token may name: the bridge sends tokens it mints only to LIVEKIT_URL (or the embedded LiveKit) and these.",
  },
  LIVEKIT_EMBEDDED_ISOLATE: {
    defaultText: "auto",
    expected: `one of ${ISOLATE_MODES.join(", ")}`,
    description:
      "Run the embedded livekit-server in its own network namespace (auto: when possible).",
  },
  LOG_LEVEL: {
    defaultText: "info",
    expected: `one of ${LOG_LEVELS.join(", ")}`,
    description: "Least severe level that is logged.",
  },
  LIVEKIT_NATIVE_LOG_LEVEL: {
    defaultText: "off",
    expected: `one of ${NATIVE_LOG_LEVELS.join(", ")}`,
    description:
      "LiveKit's native (Rust/WebRTC) log lines written through the bridge's scrubbed log at this level or more severe; off: none, and RUST_LOG is ignored (native lines can hold tokens). Costs CPU when on.",
  },
  SHUTDOWN_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 0 to 600000",
    description:
      "On SIGINT/SIGTERM, how long playbacks, then open calls, may finish before they are cut.",
  },
  HANDOFF_DRAIN_MS: {
    defaultText: "5000",
    expected: "an integer number of milliseconds from 0 to 600000",
    description:
      "Shutdown: AudioSession clients are told to move their sessions and get this long to do so.",
  },
  PLAYBACK_DRAIN_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 0 to 600000",
    description: "On SIGINT/SIGTERM, how long running playbacks may finish before sessions leave.",
  },
  RECYCLE_RSS_MB: {
    defaultText: "2048",
    expected: "an integer number of MB from 0 to 1048576 (0: never)",
    description:
      "Past this resident memory the bridge logs an error, drains as on SIGTERM (clients hand their sessions over) and exits with code 3, for its supervisor to restart it: rtc-node keeps a few hundred kB of native memory of every room it left. Set it below the container's memory limit.",
  },
  RECYCLE_CHECK_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 10 to 3600000",
    description: "How often resident memory is compared with RECYCLE_RSS_MB.",
  },
  BRIDGE_CONFIG_FILE: {
    defaultText: "(none)",
    expected: "a readable file of NAME=value lines naming only these settings",
    description: "Settings file (dotenv format); environment variables override it.",
  },
  LIVEKIT_IDENTITY_TEMPLATE: {
    defaultText: "cloud-agent:{userId}",
    expected: "a template containing {userId}",
    description: "Identity the bridge joins with when it mints the token itself.",
  },
  LIVEKIT_TOKEN_TTL_SECONDS: {
    defaultText: "3600",
    expected: "an integer number of seconds from 1 to 604800",
    description: "Lifetime of minted tokens; a rejoin always mints a fresh one.",
  },
  LIVEKIT_CONNECT_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 100 to 120000",
    description: "How long JoinRoom waits for LiveKit before answering success=false.",
  },
  STREAM_GRACE_MS: {
    defaultText: "30000",
    expected: "an integer number of milliseconds from 0 to 3600000",
    description: "How long a session stays in its room with no StreamAudio stream.",
  },
  PCM_BYTE_ORDER: {
    defaultText: "auto",
    expected: `one of ${BYTE_ORDER_MODES.join(", ")}`,
    description: "Byte order of device PCM in data packets, unless JoinRoom says.",
  },
  RECEIVE_FRAME_MS: {
    defaultText: "20",
    expected: "an integer number of milliseconds from 10 to 100",
    description: "Duration of room-to-cloud chunks from microphone tracks.",
  },
  CLOUD_QUEUE_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 20 to 60000",
    description: "Room-to-cloud audio kept for a slow reader; beyond it the oldest is dropped.",
  },
  REPLAY_MS: {
    defaultText: "2000",
    expected: "an integer number of milliseconds from 0 to 60000",
    description:
      "Room audio kept after it was sent, so an AudioSession resumed after a break loses none; 0 none.",
  },
  ROOM_STATS_INTERVAL_MS: {
    defaultText: "5000",
    expected: "an integer number of milliseconds from 0 to 3600000",
    description:
      "How often each session reads WebRTC statistics (loss, concealment, jitter, RTT); 0 never.",
  },
  TRACK_BUFFER_MS: {
    defaultText: "200",
    expected: "an integer number of milliseconds from 10 to 10000",
    description: "Cloud-to-room audio buffered per track before the sender is held back.",
  },
  TRACK_SOURCE_QUEUE_MS: {
    defaultText: "100",
    expected: "an integer number of milliseconds from 10 to 5000",
    description: "Audio queued inside each published track's LiveKit AudioSource.",
  },
  MAX_CHUNK_BYTES: {
    defaultText: "1048576",
    expected: "an integer number of bytes from 2 to 16777216",
    description: "Largest pcm_data accepted in one AudioChunk.",
  },
  BRIDGE_API_KEY: {
    defaultText: "(none)",
    expected: "a key of at least 16 characters",
    description:
      "When set, every RPC but health and reflection needs `authorization: Bearer <key>`.",
    secret: true,
  },
  BRIDGE_UNIX_SOCKET: {
    defaultText: "(none)",
    expected: "an absolute path",
    description:
      "Also serve every protocol on this Unix socket, besides the TCP port (stale file replaced, folder created, mode 0666, removed on shutdown). Wins over LIVEKIT_GRPC_SOCKET.",
  },
  LIVEKIT_GRPC_SOCKET: {
    defaultText: "(none)",
    expected: "an absolute path",
    description:
      "The deployed Go bridge's socket setting: serve on this Unix socket only (no TCP listener unless BRIDGE_PORT is set), as the cloud's container expects.",
  },
  BRIDGE_TLS_CERT: {
    defaultText: "(none)",
    expected: "a path to a PEM certificate, set together with BRIDGE_TLS_KEY",
    description: "Serve TLS on BRIDGE_PORT (h2 and http/1.1 by ALPN) with this certificate.",
  },
  BRIDGE_TLS_KEY: {
    defaultText: "(none)",
    expected: "a path to a PEM private key, set together with BRIDGE_TLS_CERT",
    description: "Private key of BRIDGE_TLS_CERT.",
  },
  MAX_SESSIONS: {
    defaultText: "1000",
    expected: "an integer from 1 to 100000",
    description: "Most sessions at once; JoinRoom for another user is ResourceExhausted.",
  },
  MAX_STREAMS_PER_CONNECTION: {
    defaultText: "1000",
    expected: "an integer from 1 to 100000",
    description: "HTTP/2 streams one connection may have open at once.",
  },
  MAX_CONNECTIONS: {
    defaultText: "0",
    expected: "an integer from 0 to 1000000",
    description:
      "Connections at once; a new one past it evicts the idlest, or is refused. 0: a quarter of the descriptor limit, at most 1000.",
  },
  FIRST_REQUEST_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 100 to 600000",
    description: "A new connection that sends no complete request within it is closed.",
  },
  IDLE_CONNECTION_TIMEOUT_MS: {
    defaultText: "300000",
    expected: "an integer number of milliseconds from 1000 to 86400000",
    description: "A connection with no open call for this long is closed (HTTP/2 GOAWAY).",
  },
  MAX_CALLS: {
    defaultText: "4000",
    expected: "an integer from 20 to 1000000",
    description:
      "Calls open at once; past it (less a reserve for health checks) a call is ResourceExhausted.",
  },
  FIRST_MESSAGE_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 100 to 600000",
    description:
      "A call whose request message does not start within it ends DeadlineExceeded; later silence is fine.",
  },
  JOIN_RATE_PER_MINUTE: {
    defaultText: "30",
    expected: "an integer from 1 to 60000",
    description: "JoinRoom calls per user per minute, sustained (ResourceExhausted beyond).",
  },
  JOIN_BURST: {
    defaultText: "5",
    expected: "an integer from 1 to 1000",
    description: "JoinRoom calls one user may make at once before the rate applies.",
  },
  MAX_JOINS_IN_FLIGHT: {
    defaultText: "4",
    expected: "an integer from 1 to 1000",
    description:
      "LiveKit room connects (JoinRoom and rejoins) running at once; more wait in a queue, so a burst of joins cannot starve running sessions.",
  },
  JOIN_QUEUE_MAX: {
    defaultText: "100",
    expected: "an integer from 0 to 100000",
    description: "Joins waiting for a connect slot; one more is ResourceExhausted.",
  },
  JOIN_QUEUE_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 100 to 600000",
    description: "Longest wait for a connect slot; past it JoinRoom is Unavailable.",
  },
  PLAYBACK_WINDOW_BYTES: {
    defaultText: "1048576",
    expected: "an integer number of bytes from 65536 to 268435456",
    description:
      "PlayAudio: compressed audio held ahead of play-out per playback; the download waits (TCP backpressure) beyond it.",
  },
  PLAYBACK_BUFFER_TOTAL_BYTES: {
    defaultText: "33554432",
    expected: "an integer number of bytes from 65536 to 4294967296",
    description:
      "PlayAudio: compressed audio held ahead of play-out by all playbacks together; downloads wait beyond it.",
  },
  PLAYBACK_CONNECT_TIMEOUT_MS: {
    defaultText: "5000",
    expected: "an integer number of milliseconds from 100 to 120000",
    description: "PlayAudio: how long a request (and each redirect) waits for response headers.",
  },
  PLAYBACK_IDLE_TIMEOUT_MS: {
    defaultText: "10000",
    expected: "an integer number of milliseconds from 100 to 120000",
    description: "PlayAudio: longest pause while the audio file downloads.",
  },
  PLAYBACK_TOTAL_TIMEOUT_MS: {
    defaultText: "120000",
    expected: "an integer number of milliseconds from 100 to 3600000",
    description:
      "PlayAudio: longest whole download of an audio file, redirects included; time paused because PLAYBACK_WINDOW_BYTES is full does not count.",
  },
  PLAYBACK_MAX_BYTES: {
    defaultText: "52428800",
    expected: "an integer number of bytes from 1024 to 1073741824",
    description: "PlayAudio: largest audio file; a larger one fails with too_large.",
  },
  PLAYBACK_MAX_REDIRECTS: {
    defaultText: "5",
    expected: "an integer from 0 to 20",
    description: "PlayAudio: redirects followed (each target's address is checked again).",
  },
  PLAYBACK_PROGRESS_MS: {
    defaultText: "250",
    expected: "an integer number of milliseconds from 20 to 60000",
    description: "PlayAudio: spacing of PROGRESS events.",
  },
  PUBLISH_AT_JOIN: {
    defaultText: "(none)",
    expected: "comma-separated track ids from 0 to 15, e.g. 2 or 0,2",
    description:
      "Tracks published (mono, 48 kHz) when a session joins, so the first TTS or PlayAudio need not wait ~200 ms for publishing.",
  },
  PLAYBACK_ALLOW_HOSTS: {
    defaultText: "(none)",
    expected: "a comma-separated list of host names, IP addresses and CIDR ranges",
    description:
      "PlayAudio: internal hosts audio may come from (loopback, private, link-local and metadata addresses are refused otherwise).",
  },
};

const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

function describeGiven(name: SettingName, value: string | undefined): string {
  if (value === undefined) return "(unset)";
  if (SETTINGS[name].secret) return `(hidden, ${value.length} characters)`;
  return JSON.stringify(value);
}

/**
 * Reads the bridge's settings from environment variables. Throws a {@link ConfigError}
 * naming every invalid value at once, so one restart is enough to fix them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const fileIssues: ConfigIssue[] = [];
  const file = readSettingsFile(env.BRIDGE_CONFIG_FILE?.trim(), fileIssues);
  const input: Partial<Record<SettingName, string>> = {};
  for (const name of SETTING_NAMES) {
    // The environment wins over the file, so one variable can override a deployed file.
    const value = (env[name]?.trim() || file[name]?.trim()) ?? "";
    if (value !== "") input[name] = value;
  }
  const parsed = envSchema.safeParse(input);
  const invalid = new Set<SettingName>();
  if (!parsed.success) {
    for (const issue of parsed.error.issues) invalid.add(issue.path[0] as SettingName);
  }
  // A key without its secret (or the reverse) cannot sign anything; say so now, not at
  // the first JoinRoom.
  if ((input.LIVEKIT_API_KEY === undefined) !== (input.LIVEKIT_API_SECRET === undefined)) {
    invalid.add(input.LIVEKIT_API_KEY === undefined ? "LIVEKIT_API_KEY" : "LIVEKIT_API_SECRET");
  }
  if ((input.BRIDGE_TLS_CERT === undefined) !== (input.BRIDGE_TLS_KEY === undefined)) {
    invalid.add(input.BRIDGE_TLS_CERT === undefined ? "BRIDGE_TLS_CERT" : "BRIDGE_TLS_KEY");
  }
  if (!parsed.success || invalid.size > 0 || fileIssues.length > 0) {
    const issues = SETTING_NAMES.filter((name) => invalid.has(name)).map((name) => ({
      name,
      expected: SETTINGS[name].expected,
      given: describeGiven(name, input[name]),
    }));
    throw new ConfigError([...fileIssues, ...issues]);
  }
  const values = parsed.data;
  return {
    ...listenersOf(values),
    host: values.BRIDGE_HOST,
    livekitUrl: values.LIVEKIT_URL,
    livekitApiKey: values.LIVEKIT_API_KEY,
    livekitApiSecret: values.LIVEKIT_API_SECRET,
    livekitUrlAllowlist: values.LIVEKIT_URL_ALLOWLIST,
    livekitEmbeddedIsolate: values.LIVEKIT_EMBEDDED_ISOLATE,
    logLevel: values.LOG_LEVEL,
    nativeLogLevel: values.LIVEKIT_NATIVE_LOG_LEVEL,
    shutdownTimeoutMs: values.SHUTDOWN_TIMEOUT_MS,
    playbackDrainMs: values.PLAYBACK_DRAIN_MS,
    recycleRssMb: values.RECYCLE_RSS_MB,
    recycleCheckMs: values.RECYCLE_CHECK_MS,
    configFile: values.BRIDGE_CONFIG_FILE,
    identityTemplate: values.LIVEKIT_IDENTITY_TEMPLATE,
    tokenTtlSeconds: values.LIVEKIT_TOKEN_TTL_SECONDS,
    connectTimeoutMs: values.LIVEKIT_CONNECT_TIMEOUT_MS,
    streamGraceMs: values.STREAM_GRACE_MS,
    pcmByteOrder: values.PCM_BYTE_ORDER,
    receiveFrameMs: values.RECEIVE_FRAME_MS,
    cloudQueueMs: values.CLOUD_QUEUE_MS,
    roomStatsIntervalMs: values.ROOM_STATS_INTERVAL_MS,
    replayMs: values.REPLAY_MS,
    handoffDrainMs: values.HANDOFF_DRAIN_MS,
    trackBufferMs: values.TRACK_BUFFER_MS,
    trackSourceQueueMs: values.TRACK_SOURCE_QUEUE_MS,
    maxChunkBytes: values.MAX_CHUNK_BYTES,
    apiKey: values.BRIDGE_API_KEY,
    tls:
      values.BRIDGE_TLS_CERT === undefined || values.BRIDGE_TLS_KEY === undefined
        ? undefined
        : { certFile: values.BRIDGE_TLS_CERT, keyFile: values.BRIDGE_TLS_KEY },
    maxSessions: values.MAX_SESSIONS,
    maxStreamsPerConnection: values.MAX_STREAMS_PER_CONNECTION,
    maxConnections: values.MAX_CONNECTIONS,
    firstRequestTimeoutMs: values.FIRST_REQUEST_TIMEOUT_MS,
    idleConnectionTimeoutMs: values.IDLE_CONNECTION_TIMEOUT_MS,
    maxCalls: values.MAX_CALLS,
    firstMessageTimeoutMs: values.FIRST_MESSAGE_TIMEOUT_MS,
    joinRatePerMinute: values.JOIN_RATE_PER_MINUTE,
    joinBurst: values.JOIN_BURST,
    maxJoinsInFlight: values.MAX_JOINS_IN_FLIGHT,
    joinQueueMax: values.JOIN_QUEUE_MAX,
    joinQueueTimeoutMs: values.JOIN_QUEUE_TIMEOUT_MS,
    playbackWindowBytes: values.PLAYBACK_WINDOW_BYTES,
    playbackBufferTotalBytes: values.PLAYBACK_BUFFER_TOTAL_BYTES,
    playbackConnectTimeoutMs: values.PLAYBACK_CONNECT_TIMEOUT_MS,
    playbackIdleTimeoutMs: values.PLAYBACK_IDLE_TIMEOUT_MS,
    playbackTotalTimeoutMs: values.PLAYBACK_TOTAL_TIMEOUT_MS,
    playbackMaxBytes: values.PLAYBACK_MAX_BYTES,
    playbackMaxRedirects: values.PLAYBACK_MAX_REDIRECTS,
    playbackProgressMs: values.PLAYBACK_PROGRESS_MS,
    playbackAllowHosts: values.PLAYBACK_ALLOW_HOSTS,
    publishAtJoin: values.PUBLISH_AT_JOIN,
  };
}

/**
 * Where the bridge listens, from our names and the deployed Go bridge's. Our names win
 * when both are given. LIVEKIT_GRPC_SOCKET alone means what it meant to the Go bridge:
 * serve there and nowhere else (PORT is then the cloud's own port, not ours); BRIDGE_PORT
 * adds a TCP listener to it.
 */
function listenersOf(values: {
  BRIDGE_PORT?: number | undefined;
  PORT?: number | undefined;
  BRIDGE_UNIX_SOCKET?: string | undefined;
  LIVEKIT_GRPC_SOCKET?: string | undefined;
}): Pick<Config, "port" | "unixSocket"> {
  const unixSocket = values.BRIDGE_UNIX_SOCKET ?? values.LIVEKIT_GRPC_SOCKET;
  if (values.BRIDGE_PORT !== undefined) return { port: values.BRIDGE_PORT, unixSocket };
  if (values.LIVEKIT_GRPC_SOCKET !== undefined) {
    return { port: values.BRIDGE_UNIX_SOCKET === undefined ? undefined : 9090, unixSocket };
  }
  return { port: values.PORT ?? 9090, unixSocket };
}

/**
 * Reads a settings file of `NAME=value` lines (dotenv syntax, parsed by Node's
 * util.parseEnv). An unreadable file or a name that is no setting (a typo would otherwise
 * be ignored silently) is added to `issues`.
 */
function readSettingsFile(path: string | undefined, issues: ConfigIssue[]): Record<string, string> {
  if (path === undefined || path === "") return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    issues.push({
      name: "BRIDGE_CONFIG_FILE",
      expected: SETTINGS.BRIDGE_CONFIG_FILE.expected,
      given: `${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    });
    return {};
  }
  const values = parseEnv(text) as Record<string, string>;
  for (const name of Object.keys(values)) {
    if (name === "BRIDGE_CONFIG_FILE" || !(SETTING_NAMES as string[]).includes(name)) {
      issues.push({
        name,
        expected: "a setting listed by --help (in the settings file)",
        given: `(in ${path})`,
      });
    }
  }
  return values;
}

/** Renders the settings table (name, default, meaning) that `--help` prints. */
export function renderConfigHelp(): string {
  const rows = SETTING_NAMES.map((name) => [
    name,
    SETTINGS[name].defaultText,
    SETTINGS[name].description,
  ]);
  const header = ["SETTING", "DEFAULT", "DESCRIPTION"];
  const widths = [0, 1].map((column) =>
    Math.max(...[header, ...rows].map((row) => (row[column] ?? "").length)),
  );
  const format = (row: readonly string[]) =>
    `  ${(row[0] ?? "").padEnd(widths[0] ?? 0)}  ${(row[1] ?? "").padEnd(widths[1] ?? 0)}  ${row[2] ?? ""}`;
  return [
    "Usage: mentra-livekit-bridge [--help]",
    "",
    "Settings are read from environment variables; blank means the default.",
    "",
    format(header),
    ...rows.map(format),
    "",
  ].join("\n");
}
