import type { MessageInitShape } from "@bufbuild/protobuf";
import type { LeaveRoomRequest, LeaveRoomResponseSchema } from "@mentra/bridge-proto";
import type { SessionRegistry } from "../session/registry.js";
import { boundedText, MAX_REASON_BYTES, requireId } from "./fields.js";

type LeaveRoomReply = MessageInitShape<typeof LeaveRoomResponseSchema>;

/** LeaveRoom: closes the user's session; its stream ends with OK. */
export function createLeaveRoom(registry: SessionRegistry) {
  return async (request: LeaveRoomRequest): Promise<LeaveRoomReply> => {
    requireId("user_id", request.userId);
    boundedText("reason", request.reason, MAX_REASON_BYTES);
    const left = await registry.leave(request.userId, request.reason || "LeaveRoom");
    return left
      ? { success: true }
      : { success: false, error: `no session for user ${request.userId}` };
  };
}
