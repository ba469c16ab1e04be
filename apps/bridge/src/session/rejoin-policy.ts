import {
  type Disconnect,
  type DisconnectKind,
  isRecoverable,
  tokenExpiry,
} from "../livekit/index.js";

/** Waits between rejoin attempts; their count bounds the attempts. */
export const REJOIN_BACKOFF_MS = [0, 250, 500, 1_000, 2_000, 4_000] as const;

/** Where a session's join tokens come from. */
export type TokenSource =
  /** The cloud's token; it cannot be renewed by the bridge. */
  | { readonly kind: "given"; readonly token: string }
  /** Minted by the bridge, fresh for every (re)join. */
  | { readonly kind: "minted"; readonly mint: () => Promise<string> };

/** What a session does after losing its room. */
export interface LossDecision {
  /** The loss as reported (GetStatus, the stream's error). */
  readonly disconnect: Disconnect;
  /** Whether to rejoin by itself. */
  readonly rejoin: boolean;
  /** Said after the stream's error message; "" for nothing. */
  readonly detail: string;
}

/** Whether the bridge can join again with `tokens`: minted ones, or a given one not expired. */
export function canRenewToken(tokens: TokenSource, nowMs: number): boolean {
  if (tokens.kind === "minted") return true;
  const expiry = tokenExpiry(tokens.token);
  return expiry === undefined || expiry > nowMs;
}

/**
 * Decides what follows a lost room. A recoverable loss that cannot be recovered because the
 * cloud's token has expired is reported as such: that is what the cloud has to fix
 * (JoinRoom with a new token).
 */
export function decideAfterLoss(lost: Disconnect, canRenew: boolean): LossDecision {
  const expired = isRecoverable(lost.kind) && !canRenew;
  const disconnect: Disconnect = expired ? { ...lost, kind: "token_expired" } : lost;
  const rejoin = isRecoverable(disconnect.kind) && !expired;
  const detail = rejoin
    ? "rejoining"
    : expired
      ? `${lost.kind}; the token has expired, call JoinRoom with a fresh one`
      : "";
  return { disconnect, rejoin, detail };
}

/** The wait before the attempt after failed attempt `index` (from 0); undefined: give up. */
export function rejoinDelayAfter(index: number): number | undefined {
  return REJOIN_BACKOFF_MS[index + 1];
}

/** Why a session that gave up rejoining closes: its loss, or the token that expired meanwhile. */
export function kindAfterGivingUp(
  lastLoss: DisconnectKind | undefined,
  canRenew: boolean,
): DisconnectKind {
  return canRenew ? (lastLoss ?? "network") : "token_expired";
}
