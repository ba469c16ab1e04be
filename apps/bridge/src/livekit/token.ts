// livekit-server-sdk is loaded at the first mint, not at start (see index.ts).

/** Options of {@link mintJoinToken}. */
export interface MintTokenOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly room: string;
  readonly identity: string;
  /** Lifetime of the token; LiveKit refreshes it for a participant that stays connected. */
  readonly ttlSeconds: number;
}

/**
 * Mints the token the bridge joins a room with when the cloud sent none. Grants:
 * join this one room, publish audio (cloud → room), subscribe (room → cloud) and publish
 * data; the participant is hidden from nobody and named after the identity.
 */
export async function mintJoinToken(options: MintTokenOptions): Promise<string> {
  const { AccessToken } = await import("livekit-server-sdk");
  const token = new AccessToken(options.apiKey, options.apiSecret, {
    identity: options.identity,
    ttl: options.ttlSeconds,
  });
  token.addGrant({
    roomJoin: true,
    room: options.room,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  return token.toJwt();
}

/** Reads the `exp` claim of a JWT (without verifying it) as ms since epoch. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof claims.exp === "number" ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Fills `{userId}` in the identity template, e.g. "cloud-agent:{userId}". */
export function identityFor(template: string, userId: string): string {
  return template.replaceAll("{userId}", userId);
}
