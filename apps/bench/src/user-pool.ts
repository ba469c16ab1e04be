import type { BridgeClient } from "@mentra/bridge-client";
import type { LiveKitCredentials } from "@mentra/test-kit";
import { type BenchUser, type Directions, joinBenchUser } from "./bench-user.js";
import type { Voices } from "./voices.js";

/** The users of a run, joined in small parallel batches and closed together. */
export interface UserPool {
  readonly users: readonly BenchUser[];
  /** Joins users until there are `count`; every `mp3Every`-th (1st, 6th, …) loops the MP3. */
  growTo(count: number, signal: AbortSignal): Promise<void>;
  /** Closes every user, in parallel. */
  closeAll(): Promise<void>;
}

/** Options of {@link createUserPool}. */
export interface UserPoolOptions {
  readonly runId: string;
  readonly creds: LiveKitCredentials;
  /**
   * The cloud side: one client for every user (their streams share its HTTP/2
   * connection), or a factory called once per user, whose client closes with the user.
   */
  readonly client: BridgeClient | (() => BridgeClient);
  readonly voices: Voices;
  readonly playUrl: string | undefined;
  /** Every n-th user (the 1st, n+1-th, …) loops the MP3; 0 for none. Default 5. */
  readonly mp3Every?: number;
  readonly directions?: Directions;
  /**
   * Every n-th user, starting with the 2nd (the 2nd, n+2-th, …; never an MP3 player when n
   * is mp3Every), sends a 300 Hz tone as TTS and its glasses hear its pitch; the other
   * glasses only send. Default 5.
   */
  readonly listenEvery?: number;
}

const JOIN_BATCH = 5;

/** `user`, closing its own client after it left. */
function withClient(user: BenchUser, client: BridgeClient): BenchUser {
  let closed: Promise<void> | undefined;
  return Object.assign(Object.create(user) as BenchUser, {
    close: () => {
      closed ??= user.close().finally(() => client.close());
      return closed;
    },
  });
}

/** Creates an empty pool. */
export function createUserPool(options: UserPoolOptions): UserPool {
  const users: BenchUser[] = [];
  const mp3Every = options.mp3Every ?? 5;
  const listenEvery = options.listenEvery ?? 5;
  let serials = 0; // every user ever joined gets a fresh id and room
  return {
    users,
    async growTo(count, signal) {
      while (users.length < count && !signal.aborted) {
        const batch = Array.from({ length: Math.min(JOIN_BATCH, count - users.length) }, (_, i) => {
          const index = users.length + i;
          const serial = serials++;
          const userId = `${options.runId}-u${serial}`;
          const join = async (): Promise<BenchUser> => {
            const own = typeof options.client === "function" ? options.client() : undefined;
            const user = await joinBenchUser({
              userId,
              roomName: `${options.runId}-room${serial}`,
              creds: options.creds,
              client: own ?? (options.client as BridgeClient),
              voices: options.voices,
              ...(options.directions ? { directions: options.directions } : {}),
              listens: index % listenEvery === 1 % listenEvery,
              // The first listener also hears the tone from a peer, without the bridge.
              control: index === 1 % listenEvery,
              ...(mp3Every > 0 && index % mp3Every === 0 && options.playUrl
                ? { playUrl: options.playUrl }
                : {}),
            }).catch(async (error: unknown) => {
              await own?.close();
              throw error;
            });
            return own === undefined ? user : withClient(user, own);
          };
          // One retry: under overload rtc-node now and then loses a room handle mid-connect.
          return join().catch(() => join());
        });
        const joined = await Promise.allSettled(batch);
        for (const result of joined) if (result.status === "fulfilled") users.push(result.value);
        const failure = joined.find((r) => r.status === "rejected");
        if (failure) throw (failure as PromiseRejectedResult).reason;
      }
    },
    async closeAll() {
      const all = users.splice(0);
      await Promise.allSettled(all.map((user) => user.close()));
    },
  };
}
