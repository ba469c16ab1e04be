import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BridgeStatusRequest, BridgeStatusResponseSchema } from "@mentra/bridge-proto";
import type { SessionRegistry } from "../session/registry.js";
import { BRIDGE_VERSION } from "../version.js";
import { requireId } from "./fields.js";

type StatusReply = MessageInitShape<typeof BridgeStatusResponseSchema>;

/**
 * GetStatus: the user's live session, or the last state of a closed one (why it
 * disconnected), or `connected=false` with `metadata.session = "none"`.
 */
export function createGetStatus(registry: SessionRegistry) {
  return (request: BridgeStatusRequest): StatusReply => {
    requireId("user_id", request.userId);
    const status = registry.status(request.userId);
    if (status === undefined) {
      return { connected: false, serverVersion: BRIDGE_VERSION, metadata: { session: "none" } };
    }
    const live = registry.get(request.userId) !== undefined;
    return {
      connected: status.connected,
      participantId: status.participantId,
      participantCount: status.participantCount,
      lastDisconnectAt: BigInt(status.lastDisconnect?.at ?? 0),
      lastDisconnectReason: status.lastDisconnect?.disconnect.kind ?? "",
      serverVersion: BRIDGE_VERSION,
      metadata: { ...status.metadata, session: live ? "open" : "closed" },
      devicePacketFormat: status.devicePackets.format,
      devicePackets: {
        accepted: BigInt(status.devicePackets.accepted),
        lost: BigInt(status.devicePackets.lost),
        duplicate: BigInt(status.devicePackets.duplicate),
        late: BigInt(status.devicePackets.late),
        reordered: BigInt(status.devicePackets.reordered),
        invalid: BigInt(status.devicePackets.invalid),
        resyncs: BigInt(status.devicePackets.resyncs),
        lossFilledMs: BigInt(status.devicePackets.lossFilledMs),
      },
    };
  };
}
