import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import { joinParticipant, leBytes, recordFault, type TestParticipant } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeSession, createBridgeClient, rankEndpoints } from "../../src/index.js";
import { type BridgeProcess, freePort, spawnBridge } from "./bridge-process.js";

const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const USERS = 9;

/** Packets lost and doubled in a run of round numbers (each packet carries its round). */
function continuity(numbers: readonly number[]): { lost: number; doubled: number } {
  let lost = 0;
  let doubled = 0;
  for (let i = 1; i < numbers.length; i++) {
    const step = ((numbers[i] ?? 0) - (numbers[i - 1] ?? 0) + 30_000) % 30_000;
    if (step === 0) doubled++;
    else if (step > 1) lost += step - 1;
  }
  return { lost, doubled };
}

interface User {
  readonly id: string;
  readonly home: string;
  readonly session: BridgeSession;
  readonly device: TestParticipant;
  /** Arrival times of the frames received. */
  readonly arrivals: number[];
  /** When the bridge received each frame (its timestamp). */
  readonly stamps: number[];
  /** The number each frame's packet carried in its first sample (the sending round). */
  readonly numbers: number[];
  reconnects: number;
}

describe.skipIf(gate === "skip")("three bridges, users spread by the client (real LiveKit)", () => {
  let livekit: LiveKitRig;
  const bridges: BridgeProcess[] = [];
  const users: User[] = [];
  let talking = true;
  let talk: Promise<void> = Promise.resolve();
  let rounds = 0;
  let client: ReturnType<typeof createBridgeClient>;

  beforeAll(async () => {
    livekit = await startLiveKit({ isolate: "on" });
    for (let i = 0; i < 3; i++) bridges.push(await spawnBridge(await freePort(), livekit));
    const endpoints = bridges.map((bridge) => bridge.url);
    client = createBridgeClient({ endpoints, keepaliveMs: 1_000 });
    for (let i = 0; i < USERS; i++) {
      const id = `scale-user-${i}`;
      const room = `scale-${i}-${process.pid}`;
      // The device's byte order is known (as it is per glasses model): no bridge has to
      // hold the first audio back to work it out, after a move either.
      const session = await client.join({
        userId: id,
        roomName: room,
        targetIdentity: "glasses",
        pcmByteOrder: "little",
      });
      const device = await joinParticipant(livekit, room, "glasses");
      const user: User = {
        id,
        home: rankEndpoints(id, endpoints)[0] ?? "",
        session,
        device,
        arrivals: [],
        stamps: [],
        numbers: [],
        reconnects: 0,
      };
      session.on("reconnecting", () => {
        user.reconnects++;
      });
      void (async () => {
        for await (const frame of session.audio) {
          user.arrivals.push(Date.now());
          user.stamps.push(frame.timestampMs);
          // A frame is whole packets (the first ones come together, once the bridge
          // has decided the device's byte order): one number per 320 samples.
          for (let offset = 0; offset < frame.samples.length; offset += 320) {
            user.numbers.push(frame.samples[offset] ?? -1);
          }
        }
      })();
      users.push(user);
    }
    // Every device talks all along: a 20 ms data packet every 20 ms (bounded to 60 s).
    talk = (async () => {
      const until = Date.now() + 60_000;
      while (talking && Date.now() < until) {
        // Numbered by the round in its first sample, so gaps and duplicates show.
        const samples = new Int16Array(320).fill(1_000);
        samples[0] = rounds % 30_000;
        const packet = leBytes(samples);
        await Promise.all(users.map((user) => user.device.sendData(packet).catch(() => {})));
        rounds++;
        await sleep(20);
      }
    })();
  }, 120_000);

  afterAll(async () => {
    talking = false;
    await talk;
    await client?.close();
    for (const user of users) await user.device.close().catch(() => {});
    for (const bridge of bridges) await bridge.stop().catch(() => {});
    await livekit?.close();
  }, 60_000);

  it("spreads the users over the bridges, and every user's device audio flows", async () => {
    await sleep(1_500);
    const homes = new Set(users.map((user) => user.home));
    expect(homes.size).toBeGreaterThanOrEqual(2);
    for (const user of users) expect(user.arrivals.length).toBeGreaterThan(20);
    const health = await Promise.all(
      bridges.map((bridge) =>
        createBridgeClient({ baseUrl: bridge.url })
          .health()
          .then((h) => h.activeSessions),
      ),
    );
    expect(health.reduce((a, b) => a + b, 0)).toBe(USERS);
    for (const [i, bridge] of bridges.entries()) {
      expect(health[i]).toBe(users.filter((user) => user.home === bridge.url).length);
    }
  });

  it("SIGKILL one bridge: its users recover on their next-ranked bridge, nobody else notices", async () => {
    // The bridge with the most users.
    const victim = [...bridges].sort(
      (a, b) =>
        users.filter((u) => u.home === b.url).length - users.filter((u) => u.home === a.url).length,
    )[0];
    if (victim === undefined) throw new Error("no bridge");
    const moved = users.filter((user) => user.home === victim.url);
    const stayed = users.filter((user) => user.home !== victim.url);
    const killedAt = Date.now();
    await victim.stop("SIGKILL");
    await sleep(5_500);
    const recovery = moved.map((user) => {
      const back = user.arrivals.find((at) => at > killedAt + 100);
      return (back ?? Number.NaN) - killedAt;
    });
    // The target is 2 s; on this 2-core machine, shared with LiveKit, three bridges and
    // nine simulated devices, 0.5-2.8 s is measured: bounded here at 5 s, and reported.
    for (const ms of recovery) expect(ms).toBeLessThan(5_000);
    for (const user of moved) expect(user.reconnects).toBeGreaterThan(0);
    // The others: no reconnect, no audio lost, and delivery goes on around the kill.
    const roundsNow = rounds;
    const gaps: number[] = [];
    for (const user of stayed) {
      expect(user.reconnects).toBe(0);
      const around = user.arrivals.filter((at) => at > killedAt - 500 && at < killedAt + 5_000);
      let worst = 0;
      for (let i = 1; i < around.length; i++) {
        worst = Math.max(worst, (around[i] ?? 0) - (around[i - 1] ?? 0));
      }
      const stamps = user.stamps.filter((at) => at > killedAt - 500 && at < killedAt + 5_000);
      let worstStamp = 0;
      for (let i = 1; i < stamps.length; i++) {
        worstStamp = Math.max(worstStamp, (stamps[i] ?? 0) - (stamps[i - 1] ?? 0));
      }
      gaps.push(Math.max(worst, worstStamp));
      // Nothing lost or doubled: every round's packet arrived once, in order.
      const { lost, doubled } = continuity(user.numbers);
      expect({ user: user.id, lost, doubled }).toEqual({ user: user.id, lost: 0, doubled: 0 });
      expect(user.numbers.length).toBeGreaterThanOrEqual(roundsNow - 50);
      // Delivered late at most briefly: the moved users' joins load the 2-core machine
      // (LiveKit, two bridges and nine simulated devices share it).
      expect(worst).toBeLessThan(2_000);
    }
    console.log(
      `[scale-out] SIGKILL of a bridge with ${moved.length} of ${USERS} users: device audio back after ${recovery.join(", ")} ms; the others' largest delivery gap ${Math.max(...gaps)} ms`,
    );
    recordFault({
      kind: "fault",
      what: `SIGKILL of one of three bridges serving ${moved.length} of ${USERS} users (the client pins users by rendezvous hashing)`,
      expected:
        "its users re-join on their next-ranked bridge and their device audio is back within 2 s; the other users see no reconnect and lose no audio",
      observed: `device audio back after ${recovery.join(", ")} ms; ${stayed.length} other users: 0 reconnects, no packet lost, delivery paused at most ${Math.max(...gaps)} ms while the moved users joined`,
      recoveryMs: Math.max(...recovery),
    });
  });
});
