import { AccessToken } from "livekit-server-sdk";

/** Credentials of a LiveKit server, as the rig hands them out. */
export interface LiveKitCredentials {
  url: string;
  apiKey: string;
  apiSecret: string;
}

/** A join token for `identity` in `room` with publish, subscribe and data grants. */
export async function mintToken(
  creds: LiveKitCredentials,
  room: string,
  identity: string,
  ttlSeconds = 600,
): Promise<string> {
  const token = new AccessToken(creds.apiKey, creds.apiSecret, { identity, ttl: ttlSeconds });
  token.addGrant({
    room,
    roomJoin: true,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
  });
  return token.toJwt();
}
