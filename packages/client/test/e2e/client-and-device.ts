import {
  type Cleanups,
  joinUserWithDevice,
  type LiveKitCredentials,
  type UserWithDevice,
} from "@mentra/test-kit";
import type { BridgeClient, BridgeSession } from "../../src/index.js";

/**
 * `client` joins `userId` to `room` with "glasses" as the device, then the glasses join
 * the room (test-kit's joinUserWithDevice). Both are undone through `cleanups`: the
 * glasses leave, then the client closes (which leaves its sessions).
 */
export function joinClientAndDevice(
  client: BridgeClient,
  livekit: LiveKitCredentials,
  cleanups: Cleanups,
  userId: string,
  room: string,
): Promise<UserWithDevice<BridgeSession>> {
  return joinUserWithDevice({
    livekit,
    room,
    cleanups,
    join: () => client.join({ userId, roomName: room, targetIdentity: "glasses" }),
    leave: () => client.close(),
  });
}
