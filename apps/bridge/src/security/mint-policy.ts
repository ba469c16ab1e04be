import { Code, ConnectError } from "@connectrpc/connect";
import type { Caller } from "./caller.js";

/**
 * The LiveKit server a URL reaches, for comparing URLs: scheme family, host and port.
 * ws and http (wss and https) reach the same server, and the path does not change who
 * receives a token, so both are left out. Undefined for what is not such a URL.
 */
export function livekitServerOf(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const secure = parsed.protocol === "wss:" || parsed.protocol === "https:";
  if (!secure && parsed.protocol !== "ws:" && parsed.protocol !== "http:") return undefined;
  const port = parsed.port === "" ? (secure ? "443" : "80") : parsed.port;
  return `${secure ? "https" : "http"}://${parsed.hostname.toLowerCase()}:${port}`;
}

/** Options of {@link createMintPolicy}. */
export interface MintPolicyOptions {
  /** The LiveKit the bridge is configured for (LIVEKIT_URL or the embedded one). */
  readonly configuredUrl: string;
  /** Further LiveKit URLs an operator allows minted tokens to go to (LIVEKIT_URL_ALLOWLIST). */
  readonly allowlist: readonly string[];
}

/** Decides whether the bridge may mint a token for a JoinRoom that brought none. */
export interface MintPolicy {
  /**
   * Throws PermissionDenied unless a token minted with the bridge's own key may go to
   * `livekitUrl` (empty: the configured LiveKit).
   */
  checkTarget(livekitUrl: string): void;
}

/**
 * A token the bridge mints is signed with its own LiveKit key and grants the named room:
 * whoever receives it can join that room. So it goes only to the configured LiveKit or
 * to servers on the allow-list; a caller that names another server must bring its own.
 */
export function createMintPolicy(options: MintPolicyOptions): MintPolicy {
  const allowed = new Set(
    [options.configuredUrl, ...options.allowlist]
      .map(livekitServerOf)
      .filter((server): server is string => server !== undefined),
  );
  return {
    checkTarget(livekitUrl) {
      if (livekitUrl === "") return;
      const server = livekitServerOf(livekitUrl);
      if (server !== undefined && allowed.has(server)) return;
      throw new ConnectError(
        `JoinRoom has no token and names livekit_url ${server ?? "(not a LiveKit URL)"}, which is not ` +
          "this bridge's LiveKit: the bridge mints tokens only for its own LiveKit (LIVEKIT_URL) " +
          "and the servers in LIVEKIT_URL_ALLOWLIST. Send your own token to join another server.",
        Code.PermissionDenied,
      );
    },
  };
}

/**
 * Throws PermissionDenied unless the caller may have a token minted at all: callers on
 * this machine (loopback, the Unix socket) and callers that sent BRIDGE_API_KEY may;
 * anyone else reaching an open port must bring their own token.
 */
export function checkCallerMayMint(caller: Caller): void {
  if (caller.local || caller.authenticated) return;
  throw new ConnectError(
    `JoinRoom has no token, and the bridge mints tokens only for callers on this machine ` +
      `(loopback, the Unix socket) or callers with BRIDGE_API_KEY; this call came from ` +
      `${caller.address}. Send your own LiveKit token, or set BRIDGE_API_KEY.`,
    Code.PermissionDenied,
  );
}
