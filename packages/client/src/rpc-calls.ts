import type { Client } from "@connectrpc/connect";
import { type BridgeStatusResponse, type LiveKitBridge, PcmByteOrder } from "@mentra/bridge-proto";
import { BridgeError, toBridgeError } from "./errors.js";

/** What {@link BridgeClient.join} asks the bridge for. */
export interface JoinRequest {
  readonly userId: string;
  readonly roomName: string;
  /** A LiveKit token; empty or absent lets the bridge mint one (or uses `getToken`). */
  readonly token?: string;
  /** Empty or absent: the bridge's default LiveKit. */
  readonly livekitUrl?: string;
  /** The device whose audio to receive; absent means everyone in the room. */
  readonly targetIdentity?: string;
  /** Byte order of the device's PCM data packets; absent: the bridge's default. */
  readonly pcmByteOrder?: "little" | "big" | "auto";
  /** Rate microphone tracks are converted to (default 16000). */
  readonly receiveSampleRate?: number;
  /** Duration of each received frame from a microphone track, in ms. */
  readonly receiveFrameMs?: number;
  /** Joins beside another bridge's session of the user, which it takes over (a drain). */
  readonly handover?: boolean;
}

/** A user's state on the bridge. */
export interface SessionStatus {
  readonly connected: boolean;
  readonly participantId: string;
  readonly participantCount: number;
  /** When the room was last lost (ms since epoch), 0 if never. */
  readonly lastDisconnectAt: number;
  /** Why, e.g. "duplicate_identity", "room_deleted", "server_shutdown"; empty if never. */
  readonly lastDisconnectReason: string;
  readonly serverVersion: string;
  /** "open", "closed" (remembered), or "none" (the bridge never saw the user). */
  readonly session: string;
  readonly metadata: Readonly<Record<string, string>>;
}

const BYTE_ORDER = {
  little: PcmByteOrder.LITTLE,
  big: PcmByteOrder.BIG,
  auto: PcmByteOrder.AUTO,
} as const;

/** Calls JoinRoom; `success=false` becomes a `join-failed` {@link BridgeError}. */
export async function joinRoom(
  rpc: Client<typeof LiveKitBridge>,
  request: JoinRequest,
  signal: AbortSignal | undefined,
): Promise<{ participantId: string; participantCount: number; identity: string }> {
  let response: Awaited<ReturnType<Client<typeof LiveKitBridge>["joinRoom"]>>;
  try {
    response = await rpc.joinRoom(
      {
        userId: request.userId,
        roomName: request.roomName,
        token: request.token ?? "",
        livekitUrl: request.livekitUrl ?? "",
        targetIdentity: request.targetIdentity ?? "",
        pcmByteOrder:
          request.pcmByteOrder === undefined
            ? PcmByteOrder.UNSPECIFIED
            : BYTE_ORDER[request.pcmByteOrder],
        receiveSampleRate: request.receiveSampleRate ?? 0,
        receiveFrameMs: request.receiveFrameMs ?? 0,
        handover: request.handover ?? false,
      },
      signal ? { signal } : {},
    );
  } catch (error) {
    throw toBridgeError(error);
  }
  if (!response.success) {
    throw new BridgeError("join-failed", response.error || "JoinRoom failed");
  }
  return {
    participantId: response.participantId,
    participantCount: response.participantCount,
    identity: response.metadata.identity ?? "",
  };
}

/** Maps GetStatus's answer to plain values. */
export function toStatus(response: BridgeStatusResponse): SessionStatus {
  return {
    connected: response.connected,
    participantId: response.participantId,
    participantCount: response.participantCount,
    lastDisconnectAt: Number(response.lastDisconnectAt),
    lastDisconnectReason: response.lastDisconnectReason,
    serverVersion: response.serverVersion,
    session: response.metadata.session ?? "open",
    metadata: response.metadata,
  };
}

/** Calls GetStatus for the user. */
export async function getStatus(
  rpc: Client<typeof LiveKitBridge>,
  userId: string,
  signal: AbortSignal | undefined,
): Promise<SessionStatus> {
  try {
    return toStatus(await rpc.getStatus({ userId }, signal ? { signal } : {}));
  } catch (error) {
    throw toBridgeError(error);
  }
}

/** Calls StopAudio: one playback (by request id) or, with "", all of the user's. */
export async function stopAudio(
  rpc: Client<typeof LiveKitBridge>,
  userId: string,
  requestId: string,
  signal: AbortSignal | undefined,
): Promise<string> {
  try {
    const response = await rpc.stopAudio({ userId, requestId }, signal ? { signal } : {});
    if (!response.success) throw new BridgeError("invalid-argument", response.error);
    return response.stoppedRequestId;
  } catch (error) {
    throw toBridgeError(error);
  }
}
