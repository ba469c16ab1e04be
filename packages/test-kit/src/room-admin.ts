import { RoomServiceClient, TwirpError } from "livekit-server-sdk";
import type { LiveKitCredentials } from "./token.js";

/** How long one server API call may take before it fails; tests must never hang on one. */
const REQUEST_TIMEOUT_SECONDS = 5;

/**
 * The HTTP base URL of the server APIs for a signalling URL: the rig hands out
 * ws:// URLs, and the room service is Twirp over plain HTTP on the same port.
 */
export function httpUrlOf(url: string): string {
  return url.replace(/^ws(s?):\/\//, "http$1://");
}

function roomService(creds: LiveKitCredentials): RoomServiceClient {
  return new RoomServiceClient(httpUrlOf(creds.url), creds.apiKey, creds.apiSecret, {
    requestTimeout: REQUEST_TIMEOUT_SECONDS,
    // Failover asks LiveKit Cloud for other regions; only our own server may be called.
    failover: false,
  });
}

const isNotFound = (err: unknown) => err instanceof TwirpError && err.code === "not_found";

/** Identities of everyone in `room`, sorted; empty when the room does not exist. */
export async function listParticipantIdentities(
  creds: LiveKitCredentials,
  room: string,
): Promise<string[]> {
  try {
    const participants = await roomService(creds).listParticipants(room);
    return participants.map((p) => p.identity).sort();
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
}

/** Removes `identity` from `room`: it sees Disconnected with reason PARTICIPANT_REMOVED. */
export async function removeParticipant(
  creds: LiveKitCredentials,
  room: string,
  identity: string,
): Promise<void> {
  await roomService(creds).removeParticipant(room, identity);
}

/**
 * Deletes `room`, disconnecting everyone in it (reason ROOM_DELETED). A room
 * that does not exist is already deleted, so this suits test teardown.
 */
export async function deleteRoom(creds: LiveKitCredentials, room: string): Promise<void> {
  try {
    await roomService(creds).deleteRoom(room);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Mutes or unmutes `identity`'s published track `trackSid`, as an admin (everyone sees it). */
export async function setTrackMuted(
  creds: LiveKitCredentials,
  room: string,
  identity: string,
  trackSid: string,
  muted: boolean,
): Promise<void> {
  await roomService(creds).mutePublishedTrack(room, identity, trackSid, muted);
}
