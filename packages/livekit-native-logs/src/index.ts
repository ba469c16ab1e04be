import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { FfiEvent, LogLevel, livekitInitialize } from "@livekit/rtc-ffi-bindings";
import { AudioResampler } from "@livekit/rtc-node";

/** What rtc-node keeps its one FFI client under (it is not exported). */
interface FfiClientLike {
  emit(event: "ffi_event", value: FfiEvent): boolean;
  on(event: "ffi_event", listener: (value: FfiEvent) => void): unknown;
}
const GLOBAL_KEY = "_ffiClientInstance";

/** What {@link quietNativeLogs} did. */
export type NativeLogsOutcome = "quieted" | "unavailable";

import { NATIVE_LOG_LEVELS, type NativeLogLevel } from "./levels.js";

export { NATIVE_LOG_LEVELS, type NativeLogLevel };

/** One native log line, as LiveKit's library wrote it (unscrubbed: may hold tokens). */
export interface NativeLogRecord {
  readonly level: Exclude<NativeLogLevel, "off">;
  /** The Rust module, e.g. "livekit::rtc_engine". */
  readonly target: string;
  readonly message: string;
}

/** What {@link routeNativeLogs} did: "forwarding" records, or off as {@link quietNativeLogs}. */
export type NativeLogsRoute = NativeLogsOutcome | "forwarding";

const RECORD_LEVELS: Readonly<Record<LogLevel, NativeLogRecord["level"]>> = {
  [LogLevel.LOG_ERROR]: "error",
  [LogLevel.LOG_WARN]: "warn",
  [LogLevel.LOG_INFO]: "info",
  [LogLevel.LOG_DEBUG]: "debug",
  [LogLevel.LOG_TRACE]: "trace",
};

/**
 * Keeps LiveKit's native log off the process's stderr, where nothing could scrub it
 * (its lines quote join URLs and tokens, e.g. "session_event is taking too much time:
 * RefreshToken { token: … }"). env_logger is turned off whatever RUST_LOG said, before
 * the library starts (it reads RUST_LOG once, then). With `level` "off" capture is
 * turned off too ({@link quietNativeLogs}): nothing native is logged, at no CPU cost.
 * Otherwise capture stays on and records at `level` or more severe go to `onRecord`,
 * for the caller to scrub and log; that costs CPU (every trace record crosses the FFI).
 * Call it before anything else uses rtc-node.
 */
export function routeNativeLogs(
  level: NativeLogLevel,
  onRecord: (record: NativeLogRecord) => void,
): NativeLogsRoute {
  process.env.RUST_LOG = "off";
  if (level === "off") return quietNativeLogs();
  new AudioResampler(16_000, 48_000, 1).close();
  const client = (globalThis as Record<string, unknown>)[GLOBAL_KEY] as FfiClientLike | undefined;
  if (client === undefined || typeof client.on !== "function") return "unavailable";
  const most = NATIVE_LOG_LEVELS.indexOf(level);
  client.on("ffi_event", (event) => {
    if (event.message.case !== "logs") return;
    for (const record of event.message.value.records) {
      const recordLevel = RECORD_LEVELS[record.level ?? LogLevel.LOG_TRACE] ?? "trace";
      if (NATIVE_LOG_LEVELS.indexOf(recordLevel) > most) continue;
      onRecord({ level: recordLevel, target: record.target ?? "", message: record.message ?? "" });
    }
  });
  return "forwarding";
}

/**
 * rtc-node starts LiveKit's native library with `capture_logs` on, and the library sets
 * its log level to trace: every native log line (thousands a second with a few rooms)
 * becomes an FFI event, decoded in JavaScript and offered to every Room, which ignore it.
 * That was most of an idle bridge's CPU. This starts the library again with capture off
 * and the same event handler as rtc-node's, so events still reach rtc-node; native logs
 * go to stderr through env_logger instead, filtered by `RUST_LOG` (errors only unless set).
 *
 * It relies on rtc-node keeping its client in a global (1.1.0 does); without it, nothing
 * changes and "unavailable" says so, for the caller to log.
 */
export function quietNativeLogs(): NativeLogsOutcome {
  // Creating any native object makes rtc-node start the library first.
  new AudioResampler(16_000, 48_000, 1).close();
  const client = (globalThis as Record<string, unknown>)[GLOBAL_KEY] as FfiClientLike | undefined;
  if (client === undefined || typeof client.emit !== "function") return "unavailable";
  livekitInitialize(
    (data) => {
      client.emit("ffi_event", FfiEvent.fromBinary(data));
    },
    false,
    rtcNodeVersion(),
  );
  return "quieted";
}

/** rtc-node's version, which it reports to LiveKit (its package.json is not exported). */
function rtcNodeVersion(): string {
  const entry = createRequire(import.meta.url).resolve("@livekit/rtc-node");
  const manifest: unknown = JSON.parse(
    readFileSync(join(dirname(entry), "..", "package.json"), "utf8"),
  );
  return typeof manifest === "object" && manifest !== null && "version" in manifest
    ? String(manifest.version)
    : "unknown";
}
