import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { FfiEvent, livekitInitialize } from "@livekit/rtc-ffi-bindings";
import { AudioResampler } from "@livekit/rtc-node";

/** What rtc-node keeps its one FFI client under (it is not exported). */
interface FfiClientLike {
  emit(event: "ffi_event", value: FfiEvent): boolean;
}
const GLOBAL_KEY = "_ffiClientInstance";

/** What {@link quietNativeLogs} did. */
export type NativeLogsOutcome = "quieted" | "unavailable";

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
