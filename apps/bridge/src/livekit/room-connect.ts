import { ContinualGatheringPolicy, IceTransportType, type Room } from "@livekit/rtc-node";

/**
 * ICE gathers once. With rtc-node's default (gather continually) each room opens ~170
 * sockets while its ICE settles (UDP, TCP listening and TCP connecting candidates on every
 * address of the host), and once rooms had settled and were left beside a room still open,
 * ~196 descriptors stayed (10 rooms left or 19 alike; CI: 197) until the last open room
 * closed, not on GC: 42 before, 238 still 30 s later. Gathering once, a joined room peaks
 * at ~21 descriptors and left rooms release all of theirs by the time LeaveRoom answers.
 * The bridge runs on a server whose addresses do not change under a room, and an ICE
 * restart (a resume) gathers afresh either way. No ICE servers here means the ones
 * LiveKit sends on join, as in rtc-node's own default.
 */
export const RTC_CONFIG = {
  iceTransportType: IceTransportType.TRANSPORT_ALL,
  continualGatheringPolicy: ContinualGatheringPolicy.GATHER_ONCE,
  iceServers: [],
};

/** Shortest time an abandoned connect keeps its join slot when it never settles. */
const ABANDONED_SLOT_MIN_MS = 10_000;
let abandoned = 0;

/** Joins that gave up while their connect is still pending or their late room not yet left. */
export function abandonedConnects(): number {
  return abandoned;
}

/**
 * rtc-node's disconnect() does nothing while connect() is pending, so a join that gave
 * up would otherwise complete later and stay in the room as a ghost holding the
 * identity and its sockets: leave as soon as the pending connect completes.
 */
export function leaveWhenConnected(
  room: Room,
  connecting: Promise<void>,
  connectTimeoutMs: number,
  settled: () => void,
): void {
  abandoned++;
  const timer = setTimeout(settled, Math.max(connectTimeoutMs, ABANDONED_SLOT_MIN_MS));
  timer.unref();
  connecting
    .then(
      () => room.disconnect(),
      () => {},
    )
    .catch(() => {})
    .finally(() => {
      disposeNativeRoom(room);
      abandoned--;
      clearTimeout(timer);
      room.removeAllListeners();
      settled();
    });
}

/**
 * rtc-node's disconnect() leaves the native room, with its signalling and WebRTC sockets,
 * to the garbage collector (its handle is only finalised): a bridge that joined and left
 * 19 rooms still held 19 TCP and ~30 UDP sockets 30 s later. Release it at once.
 */
export function disposeNativeRoom(room: Room): void {
  const native = room as unknown as { ffiHandle?: { dispose(): void } | undefined };
  try {
    native.ffiHandle?.dispose();
  } catch {
    // Already released.
  }
  native.ffiHandle = undefined;
}

/** Rejects after `timeoutMs` unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The message of a failed join, with a hint when the token has expired. */
export function describeJoinFailure(
  error: unknown,
  options: { readonly url: string; readonly tokenExpiresAt: number | undefined },
): string {
  const message = error instanceof Error ? error.message : String(error);
  const expired = options.tokenExpiresAt !== undefined && Date.now() >= options.tokenExpiresAt;
  const hint = expired ? " (the token has expired)" : "";
  return `could not join the room at ${options.url}: ${message}${hint}`;
}
