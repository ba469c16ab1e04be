import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { LeaveRoomRequest, LeaveRoomResponseSchema } from "@mentra/bridge-proto";
import type { SessionRegistry } from "../session/registry.js";

type LeaveRoomReply = MessageInitShape<typeof LeaveRoomResponseSchema>;

/** LeaveRoom: closes the user's session; its stream ends with OK. */
export function createLeaveRoom(registry: SessionRegistry) {
  return async (request: LeaveRoomRequest): Promise<LeaveRoomReply> => {
    if (request.userId === "") {
      throw new ConnectError("user_id is required", Code.InvalidArgument);
    }
    const left = await registry.leave(request.userId, request.reason || "LeaveRoom");
    return left
      ? { success: true }
      : { success: false, error: `no session for user ${request.userId}` };
  };
}
