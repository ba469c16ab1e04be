import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StopAudioRequest, StopAudioResponseSchema } from "@mentra/bridge-proto";
import type { SessionRegistry } from "../session/registry.js";
import { boundedText, MAX_REASON_BYTES, optionalId, requireId } from "./fields.js";

type StopAudioReply = MessageInitShape<typeof StopAudioResponseSchema>;

/**
 * StopAudio: a request id stops that playback only (`stopped_request_id` names it);
 * none stops all of the user's. Each stopped playback ends with STOPPED and the room is
 * silent at once. An unknown id or user is `success=false` with a readable error.
 */
export function createStopAudio(registry: SessionRegistry) {
  return (request: StopAudioRequest): StopAudioReply => {
    requireId("user_id", request.userId);
    optionalId("request_id", request.requestId);
    boundedText("reason", request.reason, MAX_REASON_BYTES);
    const session = registry.get(request.userId);
    if (session === undefined) {
      return { success: false, error: `no session for user ${request.userId}` };
    }
    const stopped = session.stopPlayback(request.requestId, "stop_audio", request.reason);
    if (request.requestId !== "" && stopped.length === 0) {
      return {
        success: false,
        error: `no playback ${request.requestId} for user ${request.userId} (it ended or never started)`,
      };
    }
    return { success: true, stoppedRequestId: stopped.join(",") };
  };
}
