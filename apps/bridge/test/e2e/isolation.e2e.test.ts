import { PcmByteOrder } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import {
  audibleMs,
  concatPcm,
  dominantFrequency,
  findOffset,
  indexOfSequence,
  listParticipantIdentities,
  sineTone,
  type TestParticipant,
  trimSilence,
  waitFor,
} from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { type CloudStream, leBytes, openCloudStream, samplesOf } from "./cloud-stream.js";
import { type BridgeRig, joinUserAndDevice, uniqueRoom, useBridgeRig } from "./harness.js";
import { recordTrack } from "./track-recorder.js";

const gate = await e2eGate();
const RATE = 16_000;
const PACKET_SAMPLES = 320; // 20 ms at 16 kHz
const LAYOUTS = [
  ["in separate rooms", false],
  ["in one room", true],
] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One user: a bridge session, the user's device in the room, and the cloud's stream. */
interface User {
  readonly userId: string;
  readonly room: string;
  readonly device: TestParticipant;
  readonly stream: CloudStream;
  readonly bridgeIdentity: string;
  readonly frequencyHz: number;
  /** One second of the user's own tone at 16 kHz. */
  readonly tone: Int16Array;
}

/** Sends samples to track 0 in 20 ms chunks, as fast as the bridge accepts them. */
function sendToSpeaker(stream: CloudStream, samples: Int16Array) {
  for (let offset = 0; offset < samples.length; offset += PACKET_SAMPLES) {
    stream.send({
      pcmData: leBytes(samples.subarray(offset, offset + PACKET_SAMPLES)),
      sampleRate: RATE,
      trackId: 0,
    });
  }
}

/** Waits for `promise`, but never longer than `timeoutMs`. */
async function within(promise: Promise<unknown>, timeoutMs: number, description: string) {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  await waitFor(() => settled, { timeoutMs, description });
}

/**
 * How strongly a pure tone of `frequencyHz` shows in `samples` (normalised correlation, 1
 * for the tone itself): another tone or an Opus artefact stays far below 0.1.
 */
function toneLevel(samples: Int16Array, frequencyHz: number): number {
  const probe = sineTone({ frequencyHz, sampleRate: RATE, durationMs: 100 });
  return findOffset(probe, samples, RATE).peak;
}

/**
 * Checks that `heard` (16 kHz mono) holds `own`'s tone, in one piece, and none of `other`'s.
 * The length is checked loosely: with two users' audio on a 2-core machine the receiver's
 * jitter buffer now and then stretches or trims a few tens of ms; the exact length is
 * room-to-cloud's and cloud-to-room's business.
 */
function expectOnlyTone(heard: Int16Array, own: User, other: User) {
  const trimmed = trimSilence(heard, RATE);
  expect(Math.abs(dominantFrequency(trimmed, RATE) - own.frequencyHz)).toBeLessThan(3);
  const audible = audibleMs(heard, RATE);
  expect(audible).toBeGreaterThanOrEqual(850);
  expect(audible).toBeLessThanOrEqual(1_150);
  expect((trimmed.length / RATE) * 1000 - audible).toBeLessThanOrEqual(20);
  expect(toneLevel(trimmed, own.frequencyHz)).toBeGreaterThan(0.9);
  expect(toneLevel(trimmed, other.frequencyHz)).toBeLessThan(0.1);
}

describe.skipIf(gate === "skip")("two users at once stay apart (real LiveKit)", () => {
  let rig: BridgeRig;
  const cleanups = useBridgeRig({}, (started) => {
    rig = started;
  });

  /** Users a (440 Hz) and b (1000 Hz), each with a session targeting its own device. */
  async function setupUsers(label: string, oneRoom: boolean): Promise<[User, User]> {
    const shared = uniqueRoom(`iso-${label}`);
    const users: User[] = [];
    for (const [name, frequencyHz] of [
      ["a", 440],
      ["b", 1_000],
    ] as const) {
      const userId = `u-iso-${label}-${oneRoom ? "one" : "apart"}-${name}`;
      const room = oneRoom ? shared : uniqueRoom(`iso-${label}-${name}`);
      const { device } = await joinUserAndDevice(rig, cleanups, userId, {
        roomName: room,
        targetIdentity: `glasses-${name}`,
        pcmByteOrder: PcmByteOrder.LITTLE,
      });
      const stream = openCloudStream(rig.client, userId);
      cleanups.push(() => stream.cancel());
      users.push({
        userId,
        room,
        device,
        stream,
        bridgeIdentity: `cloud-agent:${userId}`,
        frequencyHz,
        tone: sineTone({ frequencyHz, sampleRate: RATE, durationMs: 1_000 }),
      });
    }
    const [a, b] = users;
    if (a === undefined || b === undefined) throw new Error("two users were set up");
    // The layout is what the test says it is: who is in which room, per LiveKit itself.
    const everyone = [a, b].flatMap((u) => [u.bridgeIdentity, u.device.identity]).sort();
    for (const user of [a, b]) {
      const expected = oneRoom ? everyone : [user.bridgeIdentity, user.device.identity].sort();
      expect(await listParticipantIdentities(rig.creds, user.room)).toEqual(expected);
    }
    return [a, b];
  }

  it.each(LAYOUTS)(
    "delivers each device's data packets bit-exact to its own cloud stream only, %s",
    async (_layout, oneRoom) => {
      const [a, b] = await setupUsers("data", oneRoom);
      if (oneRoom) {
        // livekit-server announces a participant that publishes no track up to 3 s after
        // it joins, and until then rtc-node hands DataReceived no sender. The bridge takes
        // such unannounced packets as its target's only while the target itself is
        // unannounced, so in a shared room a packet of device b could reach user a's cloud
        // in that window: a known limitation, not what this test is about. Wait until each
        // bridge knows all four participants (itself, the other bridge, both devices).
        for (const user of [a, b]) {
          await waitFor(
            async () => (await rig.client.getStatus({ userId: user.userId })).participantCount >= 4,
            { timeoutMs: 10_000, description: `${user.bridgeIdentity} to know everyone` },
          );
        }
      }
      await Promise.all([a.device.sendPcm(a.tone), b.device.sendPcm(b.tone)]);
      await Promise.all([
        a.stream.waitForSamples(a.tone.length, 5_000),
        b.stream.waitForSamples(b.tone.length, 5_000),
      ]);
      await sleep(300); // a stray packet of the other device would have arrived by now

      for (const [own, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const received = samplesOf(own.stream.received);
        expect(received.length).toBe(own.tone.length);
        expect(indexOfSequence(received, own.tone)).toBe(0);
        for (let offset = 0; offset < other.tone.length; offset += PACKET_SAMPLES) {
          const packet = other.tone.subarray(offset, offset + PACKET_SAMPLES);
          expect(indexOfSequence(received, packet)).toBe(-1);
        }
        expect(Math.abs(dominantFrequency(received, RATE) - own.frequencyHz)).toBeLessThan(3);
        for (const chunk of own.stream.received) expect(chunk.userId).toBe(own.userId);
        if (oneRoom) {
          const { metadata } = await rig.client.getStatus({ userId: own.userId });
          expect(metadata.unannounced_packets_accepted).toBe("0");
          expect(metadata.unannounced_packets_dropped).toBe("0");
        }
      }
    },
    30_000,
  );

  it.each(LAYOUTS)(
    "forwards each device's microphone track to its own cloud stream only, %s",
    async (_layout, oneRoom) => {
      const [a, b] = await setupUsers("mic", oneRoom);
      // Half a second of silence first, so both subscriptions are up when the tone starts.
      const at48k = (user: User) =>
        concatPcm([
          new Int16Array(24_000),
          sineTone({ frequencyHz: user.frequencyHz, sampleRate: 48_000, durationMs: 1_000 }),
        ]);
      await Promise.all([
        a.device.publishPcm(at48k(a), { sampleRate: 48_000 }),
        b.device.publishPcm(at48k(b), { sampleRate: 48_000 }),
      ]);
      await sleep(300);

      expectOnlyTone(samplesOf(a.stream.received), a, b);
      expectOnlyTone(samplesOf(b.stream.received), b, a);
      for (const user of [a, b]) {
        for (const chunk of user.stream.received) expect(chunk.userId).toBe(user.userId);
      }
    },
    30_000,
  );

  it.each(LAYOUTS)(
    "plays each cloud's audio on its own bridge's speaker track only, %s",
    async (_layout, oneRoom) => {
      const [a, b] = await setupUsers("speaker", oneRoom);
      const heardA = recordTrack(a.device, a.bridgeIdentity, "speaker", RATE);
      const heardB = recordTrack(b.device, b.bridgeIdentity, "speaker", RATE);
      // In one room device a hears user b's bridge too: that track must carry b's tone only.
      const crossed = oneRoom
        ? recordTrack(a.device, b.bridgeIdentity, "speaker", RATE)
        : undefined;
      // Half a second of silence first: the bridge publishes on the first audio and plays
      // at once, before the devices have subscribed.
      const lead = new Int16Array(RATE / 2);
      sendToSpeaker(a.stream, concatPcm([lead, a.tone]));
      sendToSpeaker(b.stream, concatPcm([lead, b.tone]));
      const subscriptions = [heardA, heardB, ...(crossed ? [crossed] : [])];
      await within(
        Promise.all(subscriptions.map((r) => r.subscribed)),
        5_000,
        "the speaker tracks to be subscribed",
      );
      await sleep(2_500);
      const [fromA, fromB, fromBAtA] = await Promise.all(subscriptions.map((r) => r.stop()));

      expectOnlyTone(fromA ?? new Int16Array(0), a, b);
      expectOnlyTone(fromB ?? new Int16Array(0), b, a);
      if (oneRoom) expectOnlyTone(fromBAtA ?? new Int16Array(0), b, a);
    },
    30_000,
  );
});
