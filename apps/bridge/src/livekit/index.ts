/**
 * The bridge's only door to LiveKit: everything that touches `@livekit/rtc-node` or
 * `livekit-server-sdk` lives in this folder.
 *
 * This door itself loads neither. rtc-node (its native addon, the FFI client and the log
 * quieting) takes a few hundred ms to load, and a bridge restarted under the cloud must
 * answer HealthCheck first: {@link warmLiveKit} loads it once the server listens, and
 * {@link connectRoomLink} waits for it, so a JoinRoom arriving meanwhile only waits.
 */
import type { NativeLogLevel, NativeLogRecord, NativeLogsRoute } from "@mentra/livekit-native-logs";
import { type JsLogRecord, routeJsLogs } from "@mentra/livekit-native-logs/js-logs";
import type { RoomLink, RoomLinkOptions } from "./room-link.js";

export { type Disconnect, type DisconnectKind, isRecoverable } from "./disconnect-kind.js";
export type { Underruns } from "./late-ledger.js";
export { type LinkStats, NO_LINK_STATS } from "./link-stats.js";
export type { OutboundTrack, OutboundTrackOptions } from "./outbound-track.js";
export type { AudioOrigin, RoomLink, RoomLinkHandlers, RoomLinkOptions } from "./room-link.js";
export { identityFor, mintJoinToken, tokenExpiry } from "./token.js";
export type { JsLogRecord, NativeLogLevel, NativeLogRecord, NativeLogsRoute };

interface LoadedLiveKit {
  readonly connectRoomLink: (options: RoomLinkOptions) => Promise<RoomLink>;
  readonly abandonedConnects: () => number;
  readonly dispose: () => Promise<void>;
  readonly nativeLogs: NativeLogsRoute;
}

let loading: Promise<LoadedLiveKit> | undefined;
let loaded: LoadedLiveKit | undefined;
let nativeLogRoute: { level: NativeLogLevel; onRecord: (record: NativeLogRecord) => void } = {
  level: "off",
  onRecord: () => {},
};

/**
 * Where LiveKit's native log lines go once rtc-node loads (see `routeNativeLogs` in
 * `@mentra/livekit-native-logs`): nowhere by default, else to `onRecord` for the caller to
 * scrub and log. Takes effect only when called before rtc-node loads ({@link warmLiveKit}).
 */
export function routeNativeLogsTo(
  level: NativeLogLevel,
  onRecord: (record: NativeLogRecord) => void,
): void {
  nativeLogRoute = { level, onRecord };
}

/**
 * Where rtc-node's JavaScript logger ("lk-rtc", pino) writes from now on: to `onRecord`,
 * for the caller to scrub and log, instead of straight to stdout (see
 * `@mentra/livekit-native-logs/js-logs`). Loads nothing; returns the undo.
 */
export function routeRtcNodeLogsTo(onRecord: (record: JsLogRecord) => void): () => void {
  return routeJsLogs(onRecord);
}

/**
 * Loads rtc-node and routes its native log as {@link routeNativeLogsTo} said (off unless
 * told; see `@mentra/livekit-native-logs`), once; later calls get the same promise.
 * NODE_ENV must be set before (main.ts does).
 */
export function warmLiveKit(): Promise<LoadedLiveKit> {
  loading ??= (async () => {
    // One after the other: importing rtc-node (CommonJS) from several ES modules at once
    // made Node 20 resolve it through pnpm's symlink, where its own dependencies are not.
    const roomLink = await import("./room-link.js");
    const rtc = await import("@livekit/rtc-node");
    const nativeLogs = await import("@mentra/livekit-native-logs");
    // Loaded now too, so the first JoinRoom that mints a token does not wait for it.
    await import("livekit-server-sdk");
    const route = nativeLogRoute;
    loaded = {
      connectRoomLink: roomLink.connectRoomLink,
      abandonedConnects: roomLink.abandonedConnects,
      dispose: rtc.dispose,
      nativeLogs: nativeLogs.routeNativeLogs(route.level, route.onRecord),
    };
    return loaded;
  })();
  return loading;
}

/**
 * Joins a room and keeps the link to it (see room-link.ts); loads rtc-node first if
 * {@link warmLiveKit} has not finished. Rejects with a RoomJoinError as room-link does.
 */
export async function connectRoomLink(options: RoomLinkOptions): Promise<RoomLink> {
  return (await warmLiveKit()).connectRoomLink(options);
}

/** Joins that gave up while their connect is still pending (0 before rtc-node loads). */
export function abandonedConnects(): number {
  return loaded?.abandonedConnects() ?? 0;
}

/** Releases rtc-node's native side, if it was ever loaded. */
export async function disposeLiveKit(): Promise<void> {
  if (loading === undefined) return;
  await (await loading).dispose();
}
