import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type JoinRoomRequest,
  type JoinRoomResponseSchema,
  PcmByteOrder,
} from "@mentra/bridge-proto";
import type { ByteOrderSetting } from "../config.js";
import { requestFields } from "../observability/request-context.js";
import { callerKey } from "../security/caller.js";
import { checkCallerMayMint } from "../security/mint-policy.js";
import type { SessionRegistry } from "../session/registry.js";
import { SessionError } from "../session/session-errors.js";
import { invalid, toConnectError } from "./errors.js";
import {
  boundedText,
  MAX_TOKEN_BYTES,
  optionalFrameMs,
  optionalId,
  optionalLiveKitUrl,
  optionalSampleRate,
  requireId,
} from "./fields.js";

type JoinRoomReply = MessageInitShape<typeof JoinRoomResponseSchema>;

const BYTE_ORDERS: Readonly<Record<PcmByteOrder, ByteOrderSetting | undefined>> = {
  [PcmByteOrder.UNSPECIFIED]: undefined,
  [PcmByteOrder.LITTLE]: "little",
  [PcmByteOrder.BIG]: "big",
  [PcmByteOrder.AUTO]: "auto",
};

/**
 * JoinRoom: malformed requests are InvalidArgument; a request for a minted token the
 * bridge may not hand out (a remote caller without BRIDGE_API_KEY, a server that is not
 * its LiveKit) is PermissionDenied; anything LiveKit refuses (bad token, unreachable
 * server, timeout) is `success=false` with a readable error, as deployed.
 */
export function createJoinRoom(registry: SessionRegistry) {
  return async (request: JoinRoomRequest, context: HandlerContext): Promise<JoinRoomReply> => {
    requireId("user_id", request.userId);
    requireId("room_name", request.roomName);
    optionalId("target_identity", request.targetIdentity);
    optionalLiveKitUrl("livekit_url", request.livekitUrl);
    boundedText("token", request.token, MAX_TOKEN_BYTES);
    const rate = optionalSampleRate("receive_sample_rate", request.receiveSampleRate);
    const frameMs = optionalFrameMs("receive_frame_ms", request.receiveFrameMs);
    if (!(request.pcmByteOrder in BYTE_ORDERS)) {
      throw invalid(`pcm_byte_order ${request.pcmByteOrder} is not a known value`);
    }
    if (request.token === "") checkCallerMayMint(context.values.get(callerKey));
    try {
      const session = await registry.join({
        logFields: requestFields(context.values),
        userId: request.userId,
        roomName: request.roomName,
        token: request.token,
        livekitUrl: request.livekitUrl,
        targetIdentity: request.targetIdentity,
        byteOrder: BYTE_ORDERS[request.pcmByteOrder],
        receiveSampleRate: rate,
        receiveFrameMs: frameMs,
        handover: request.handover,
      });
      const status = session.status();
      return {
        success: true,
        participantId: status.participantId,
        participantCount: status.participantCount,
        metadata: {
          identity: session.identity,
          room: session.roomName,
          byte_order_mode: status.metadata.byte_order_mode ?? "",
        },
      };
    } catch (error) {
      if (error instanceof ConnectError || error instanceof SessionError) {
        throw toConnectError(error);
      }
      return { success: false, error: error instanceof Error ? error.message : String(error) };
    }
  };
}
