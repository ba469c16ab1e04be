// The control for the pitch the glasses hear: a participant of the bench's own in a listening
// user's room plays the same 300 Hz tone, in the same utterances and 20 ms steps, straight
// into LiveKit. What the glasses hear of it is the pitch without the bridge, so a stretch
// that both show is the glasses' receive path (or LiveKit), not the bridge.
import {
  joinParticipant,
  type LiveKitCredentials,
  publishTimedMic,
  type TestParticipant,
  type TimedMic,
} from "@mentra/test-kit";

/** 20 ms at the timed mic's 16 kHz. */
const CHUNK = 320;

/** A peer publishing the tone; the glasses record it by {@link DirectTone.identity}. */
export interface DirectTone {
  readonly identity: string;
  /** Plays the 20 ms of tick `frame` when `speaking`; nothing in the pauses. */
  tick(frame: number, speaking: boolean): void;
  /** Leaves the room. Idempotent. */
  close(): Promise<void>;
}

/** Joins the peer `direct-<userId>` to `roomName` and publishes its mic. */
export async function startDirectTone(
  creds: LiveKitCredentials,
  roomName: string,
  userId: string,
  tone16k: Int16Array,
): Promise<DirectTone> {
  const peer: TestParticipant = await joinParticipant(creds, roomName, `direct-${userId}`, {
    autoSubscribe: false,
  });
  let mic: TimedMic;
  try {
    mic = await publishTimedMic(peer);
  } catch (error) {
    await peer.close();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    identity: peer.identity,
    tick(frame, speaking) {
      if (closed || !speaking) return;
      const from = (frame * CHUNK) % tone16k.length;
      mic.write(tone16k.subarray(from, from + CHUNK)).catch(() => {});
    },
    close() {
      closed ??= (async () => {
        await mic.close();
        await peer.close();
      })();
      return closed;
    },
  };
}
