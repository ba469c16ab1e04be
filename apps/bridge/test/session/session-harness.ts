import { Code } from "@connectrpc/connect";
import { silentLogger } from "../../src/logger.js";
import { NO_AUDIO_LATENCY } from "../../src/observability/audio-latency.js";
import { createPlaybackBufferBudget } from "../../src/playback/buffer-budget.js";
import { createAddressPolicy } from "../../src/playback/url-policy.js";
import { toConnectError } from "../../src/rpc/errors.js";
import { Session, type SessionOptions, type TokenSource } from "../../src/session/session.js";
import { createFakeConnector } from "./fake-room-link.js";

/** A JWT (unsigned) whose `exp` claim is `expiresAtMs`. */
export function tokenExpiringAt(expiresAtMs: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none" })}.${part({ exp: Math.floor(expiresAtMs / 1000) })}.sig`;
}

/** A minted token source that counts its mints. */
export const minted: TokenSource = { kind: "minted", mint: async () => "minted-token" };

/** Opens a session on a fake connector; `closed` lists every onClosed call. */
export async function openFakeSession(overrides: Partial<SessionOptions> = {}) {
  const connector = createFakeConnector();
  const closed: Session[] = [];
  const session = await Session.open({
    userId: "user-1",
    roomName: "room-1",
    url: "ws://127.0.0.1:1",
    targetIdentity: "",
    tokens: minted,
    connectTimeoutMs: 1_000,
    streamGraceMs: 60_000,
    byteOrder: "little",
    receive: { sampleRate: 16_000, frameMs: 10 },
    cloudQueueMs: 1_000,
    cloudMaxDelayMs: 200,
    publishAtJoin: [],
    replayMs: 0,
    statsIntervalMs: 0,
    track: { bufferMs: 200, sourceQueueMs: 100, jitterBufferMs: 0, maxLateMs: 100 },
    playback: {
      limits: {
        connectTimeoutMs: 1_000,
        idleTimeoutMs: 1_000,
        totalTimeoutMs: 1_000,
        maxBytes: 1_000,
        maxRedirects: 0,
      },
      policy: createAddressPolicy({ allow: [] }),
      progressIntervalMs: 1_000,
      buffer: createPlaybackBufferBudget({ windowBytes: 1_000, totalBytes: 10_000 }),
    },
    logger: silentLogger,
    audioLatency: NO_AUDIO_LATENCY,
    onClosed: (s) => closed.push(s),
    connect: connector.connect,
    ...overrides,
  });
  return { session, connector, closed };
}

/** `ms` of 16 kHz mono room audio whose samples are all `value`. */
export function roomFrame(ms: number, value = 1): Int16Array {
  return new Int16Array((16_000 * ms) / 1000).fill(value);
}

/** What an attachment's end reason says, and the Connect code it reaches the wire with. */
export function describeEnd(reason: unknown): { message: string; code: string } {
  const error = toConnectError(reason);
  return { message: error.rawMessage, code: Code[error.code] };
}
