import type { Cleanups } from "./cleanups.js";
import { joinParticipant, type TestParticipant } from "./participant.js";
import type { LiveKitCredentials } from "./token.js";

/** Options of {@link joinUserWithDevice}. */
export interface JoinUserWithDeviceOptions<J> {
  /** The LiveKit the device joins. */
  readonly livekit: LiveKitCredentials;
  /** The room the user is joined to, and the device joins. */
  readonly room: string;
  /** The device's identity; "glasses" by default. */
  readonly deviceIdentity?: string;
  /** Where the undo steps go: leaving the room (device, then user). */
  readonly cleanups: Cleanups;
  /** Joins the user on the bridge (JoinRoom, or a client's join), checking it worked. */
  readonly join: () => Promise<J>;
  /**
   * Undoes `join` (LeaveRoom, or closing the client). Registered before `join` runs, so a
   * join that fails halfway is undone too; omitted when the test ends the bridge itself.
   */
  readonly leave?: () => Promise<unknown>;
}

/** What {@link joinUserWithDevice} set up. */
export interface UserWithDevice<J> {
  /** What `join` resolved with. */
  readonly joined: J;
  /** The user's device, a participant in the room. */
  readonly device: TestParticipant;
}

/**
 * The set-up most end-to-end tests start with: the user joins a room through the bridge,
 * then the user's device joins the same room, each undone through `cleanups` (the device
 * leaves first, then the user).
 */
export async function joinUserWithDevice<J>(
  options: JoinUserWithDeviceOptions<J>,
): Promise<UserWithDevice<J>> {
  const { cleanups, leave } = options;
  if (leave !== undefined) cleanups.push(leave);
  const joined = await options.join();
  const device = await joinParticipant(
    options.livekit,
    options.room,
    options.deviceIdentity ?? "glasses",
  );
  cleanups.push(() => device.close());
  return { joined, device };
}
