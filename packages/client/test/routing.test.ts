import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { BackoffOptions } from "../src/backoff.js";
import { EndpointRouter, rankEndpoints } from "../src/endpoint-router.js";
import { type BridgeSession, createBridgeClient } from "../src/index.js";
import { FakeBridge } from "./support/fake-bridge.js";

/** Polls `check` every 5 ms for up to 2 s (expect.poll is vitest-only; these tests also run on Bun). */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

const users = Array.from({ length: 2_000 }, (_, i) => `user-${i}@example.com`);
const three = ["http://bridge-0:9090", "http://bridge-1:9090", "http://bridge-2:9090"];

describe("rendezvous ranking", () => {
  it("spreads users evenly and ranks the same way every time", () => {
    const counts = new Map<string, number>();
    for (const user of users) {
      const first = rankEndpoints(user, three)[0] ?? "";
      counts.set(first, (counts.get(first) ?? 0) + 1);
      expect(rankEndpoints(user, [...three].reverse())).toEqual(rankEndpoints(user, three));
    }
    for (const endpoint of three) {
      expect(counts.get(endpoint) ?? 0).toBeGreaterThan(users.length / 3 - 120);
      expect(counts.get(endpoint) ?? 0).toBeLessThan(users.length / 3 + 120);
    }
  });

  it("moves only about a quarter of the users to an added fourth endpoint, and no one else", () => {
    const four = [...three, "http://bridge-3:9090"];
    let moved = 0;
    for (const user of users) {
      const before = rankEndpoints(user, three)[0];
      const after = rankEndpoints(user, four)[0];
      if (before !== after) {
        moved++;
        expect(after).toBe("http://bridge-3:9090");
      }
    }
    expect(moved / users.length).toBeGreaterThan(0.2);
    expect(moved / users.length).toBeLessThan(0.3);
  });

  it("moves only a removed endpoint's users, each to its next-ranked one", () => {
    const two = three.filter((endpoint) => endpoint !== "http://bridge-1:9090");
    for (const user of users) {
      const ranked = rankEndpoints(user, three);
      const after = rankEndpoints(user, two)[0];
      if (ranked[0] === "http://bridge-1:9090") expect(after).toBe(ranked[1]);
      else expect(after).toBe(ranked[0]);
    }
  });

  it("passes over an endpoint marked down, for a while", () => {
    let now = 0;
    const router = new EndpointRouter({
      endpoints: three,
      connect: (e) => e,
      downForMs: 1_000,
      now: () => now,
    });
    const user = users[7] ?? "";
    const [first, second] = rankEndpoints(user, three);
    expect(router.pick(user).endpoint).toBe(first);
    router.markDown(first ?? "");
    expect(router.pick(user).endpoint).toBe(second);
    now = 1_001;
    expect(router.pick(user).endpoint).toBe(first);
  });
});

describe("a client with several bridges (in memory)", () => {
  const noJitter = { initialMs: 10, maxMs: 40, random: () => 0.5 };

  function start(
    extra: { endpointDownMs?: number; spliceTimeoutMs?: number; backoff?: BackoffOptions } = {},
  ) {
    const bridges = new Map(three.map((endpoint) => [endpoint, new FakeBridge()] as const));
    const client = createBridgeClient({
      backoff: noJitter,
      ...extra,
      endpoints: three,
      transport: (endpoint) => {
        const bridge = bridges.get(endpoint);
        if (bridge === undefined) throw new Error(endpoint);
        return bridge.transport;
      },
    });
    return { bridges, client };
  }

  it("joins each user on its best-ranked bridge", async () => {
    const { bridges, client } = start();
    const sessions: BridgeSession[] = [];
    for (const user of users.slice(0, 12)) {
      sessions.push(await client.join({ userId: user, roomName: `room-${user}` }));
    }
    for (const user of users.slice(0, 12)) {
      const best = bridges.get(rankEndpoints(user, three)[0] ?? "");
      expect(best?.calls.filter((c) => c === "JoinRoom").length).toBeGreaterThan(0);
    }
    await client.close();
  });

  it("moves a user whose bridge went down to its next-ranked bridge, joining there", async () => {
    const { bridges, client } = start();
    const user = users[3] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const reconnected: { rejoined: boolean }[] = [];
    session.on("reconnected", (info) => reconnected.push(info));
    const home = bridges.get(first ?? "");
    const next = bridges.get(second ?? "");
    (await home?.waitForStreams(1))?.end(new ConnectError("connection reset", Code.Unavailable));
    if (home) home.down = true;
    await next?.waitForStreams(1);
    await until(() => reconnected.length === 1);
    expect(next?.calls.slice(0, 3)).toEqual(["GetStatus", "JoinRoom", "AudioSession"]);
    expect(reconnected[0]?.rejoined).toBe(true);
    await session.leave();
    expect(next?.calls.at(-1)).toBe("LeaveRoom");
  });

  it("passes a bridge that died over at once, without the reconnect backoff", async () => {
    // A long backoff: a client that waited it would take over 4 s.
    const { bridges, client } = start({
      backoff: { initialMs: 5_000, maxMs: 5_000, random: () => 0.99 },
    });
    const user = users[4] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const reconnected: { downtimeMs: number }[] = [];
    session.on("reconnected", (info) => reconnected.push(info));
    const home = bridges.get(first ?? "");
    if (home) home.down = true;
    (await home?.waitForStreams(1))?.end(new ConnectError("connection reset", Code.Unavailable));
    await until(() => reconnected.length === 1);
    expect(reconnected[0]?.downtimeMs).toBeLessThan(1_000);
    expect(bridges.get(second ?? "")?.calls.slice(0, 3)).toEqual([
      "GetStatus",
      "JoinRoom",
      "AudioSession",
    ]);
    await client.close();
  });

  it("still waits the backoff when the broken stream's bridge answers (it may be rejoining LiveKit)", async () => {
    const { bridges, client } = start({
      backoff: { initialMs: 600, maxMs: 600, random: () => 0.99 },
    });
    const user = users[4] ?? "";
    const [first] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const reconnected: { downtimeMs: number }[] = [];
    session.on("reconnected", (info) => reconnected.push(info));
    const home = bridges.get(first ?? "");
    (await home?.waitForStreams(1))?.end(new ConnectError("connection reset", Code.Unavailable));
    await until(() => reconnected.length === 1);
    // The first backoff (594 ms), no more than one, and the same bridge kept.
    expect(reconnected[0]?.downtimeMs).toBeGreaterThanOrEqual(590);
    expect(reconnected[0]?.downtimeMs).toBeLessThan(880);
    await home?.waitForStreams(2);
    expect(home?.calls.filter((c) => c === "AudioSession")).toHaveLength(2);
    await client.close();
  });

  it("joins on the next-ranked bridge when the best one does not answer", async () => {
    const { bridges, client } = start();
    const user = users[5] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const home = bridges.get(first ?? "");
    if (home) home.down = true;
    const session = await client.join({ userId: user, roomName: "r" });
    expect(bridges.get(second ?? "")?.calls[0]).toBe("JoinRoom");
    await session.leave();
  });

  /** Seeded noise-like PCM, as little-endian bytes per 20 ms chunk, stamped as received. */
  function deviceAudio(chunks: number) {
    let state = 7;
    return Array.from({ length: chunks }, (_, i) => {
      const bytes = new Uint8Array(640);
      const view = new DataView(bytes.buffer);
      for (let j = 0; j < 320; j++) {
        state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
        view.setInt16(j * 2, (state >>> 16) - 32_768, true);
      }
      return { pcmData: bytes, timestampMs: BigInt(1_000_000 + i * 20) };
    });
  }

  async function collect(session: BridgeSession, bytes: number): Promise<Uint8Array> {
    const out = new Uint8Array(bytes);
    let at = 0;
    for await (const frame of session.audio) {
      const view = new DataView(out.buffer);
      for (const sample of frame.samples) {
        if (at >= bytes) break;
        view.setInt16(at, sample, true);
        at += 2;
      }
      if (at >= bytes) break;
    }
    return out;
  }

  it("moves a session to the next-ranked bridge when its bridge drains: no gap, no duplicate, no reconnect", async () => {
    const { bridges, client } = start();
    const user = users[9] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const moved: { from: string; to: string; splice: string }[] = [];
    const reconnecting: unknown[] = [];
    const disconnected: unknown[] = [];
    session.on("moved", (info) => moved.push(info));
    session.on("reconnecting", (info) => reconnecting.push(info));
    session.on("disconnected", (error) => disconnected.push(error));
    const home = bridges.get(first ?? "");
    const next = bridges.get(second ?? "");
    const audio = deviceAudio(30);
    const heard = collect(session, 30 * 640);
    const old = await home?.waitForStreams(1);
    // 0..400 ms through the old bridge, and TTS the old bridge plays.
    for (const chunk of audio.slice(0, 20)) old?.push(chunk);
    session.send(new Int16Array(320).fill(1), { trackId: 2 });
    await old?.waitForAudio(1);
    old?.drain();
    // The new bridge joins beside it (a handover) and receives the device from 200 ms on.
    await until(() => next?.streams.length === 1);
    expect(next?.handovers).toEqual([true]);
    const fresh = next?.streams[0];
    for (const chunk of audio.slice(10, 30)) fresh?.push(chunk);
    await until(() => moved.length === 1);
    expect(moved[0]).toMatchObject({ from: first, to: second, splice: "exact" });
    // Every sample of the device once, in order: 0..400 ms from the old, then the new.
    const expected = new Uint8Array(30 * 640);
    for (const [i, chunk] of audio.entries()) expected.set(chunk.pcmData, i * 640);
    expect(await heard).toEqual(expected);
    // The old bridge got the TTS sent before the switch and a handover mark after it;
    // TTS sent now goes to the new bridge only.
    expect(old?.controls).toEqual([{ kind: "mark", trackId: 2, name: "mentra.handover" }]);
    session.send(new Int16Array(320).fill(2), { trackId: 2 });
    await fresh?.waitForAudio(1);
    expect(old?.received.filter((c) => c.pcmData.byteLength > 0)).toHaveLength(1);
    await until(() => home?.calls.at(-1) === "LeaveRoom");
    expect(reconnecting).toEqual([]);
    expect(disconnected).toEqual([]);
    expect(session.stats().moves).toBe(1);
    await session.leave();
    expect(next?.calls.at(-1)).toBe("LeaveRoom");
  });

  it("waits past spliceTimeoutMs for a new bridge that lags, while the old one still delivers: spliced by content, not by its late receive times", async () => {
    const { bridges, client } = start({ spliceTimeoutMs: 200 });
    const user = users[21] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const moved: { splice: string }[] = [];
    session.on("moved", (info) => moved.push(info));
    const audio = deviceAudio(40);
    const heard = collect(session, 40 * 640);
    const old = await bridges.get(first ?? "")?.waitForStreams(1);
    for (const chunk of audio.slice(0, 20)) old?.push(chunk);
    old?.drain();
    const next = bridges.get(second ?? "");
    await until(() => next?.streams.length === 1);
    const fresh = next?.streams[0];
    // The new bridge is loaded: it receives the device 600 ms late (and stamps it so), and
    // after its first 200 ms it stalls for longer than the splice timeout.
    const late = (chunk: { pcmData: Uint8Array; timestampMs: bigint }) => ({
      ...chunk,
      timestampMs: chunk.timestampMs + 600n,
    });
    for (const chunk of audio.slice(0, 10)) fresh?.push(late(chunk));
    for (const chunk of audio.slice(20, 30)) old?.push(chunk);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(moved).toEqual([]);
    for (const chunk of audio.slice(10, 40)) fresh?.push(late(chunk));
    await until(() => moved.length === 1);
    expect(moved[0]?.splice).toBe("exact");
    // Every sample once, in order: receive times would have repeated the first 200 ms.
    const expected = new Uint8Array(40 * 640);
    for (const [i, chunk] of audio.entries()) expected.set(chunk.pcmData, i * 640);
    expect(await heard).toEqual(expected);
    await session.leave();
  });

  it("finishes a handover when the old bridge ends the stream first, and by receive time in silence", async () => {
    const { bridges, client } = start({ spliceTimeoutMs: 1_000 });
    const user = users[11] ?? "";
    const [first, second] = rankEndpoints(user, three);
    const session = await client.join({ userId: user, roomName: "r" });
    const moved: { splice: string; tookMs: number }[] = [];
    session.on("moved", (info) => moved.push(info));
    const old = await bridges.get(first ?? "")?.waitForStreams(1);
    const silence = (i: number) => ({
      pcmData: new Uint8Array(640),
      timestampMs: BigInt(2_000_000 + i * 20),
    });
    for (let i = 0; i < 10; i++) old?.push(silence(i));
    old?.drain();
    const next = bridges.get(second ?? "");
    await until(() => next?.streams.length === 1);
    old?.end(new ConnectError("the bridge is shutting down", Code.Unavailable));
    for (let i = 5; i < 20; i++) next?.streams[0]?.push(silence(i));
    await until(() => moved.length === 1);
    expect(moved[0]?.splice).toBe("timestamps");
    expect(moved[0]?.tookMs).toBeGreaterThanOrEqual(900);
    // Silence from 200 ms on: 10 chunks from the old, then the new from its 6th chunk on.
    let samples = 0;
    for await (const frame of session.audio) {
      samples += frame.samples.length;
      if (samples >= 20 * 320) break;
    }
    expect(samples).toBe(20 * 320);
    await session.leave();
  });

  it("rebalances a session back to its best-ranked bridge once it answers again, without a gap", async () => {
    const { bridges, client } = start({ endpointDownMs: 50 });
    const user = users[13] ?? "";
    const [best, second] = rankEndpoints(user, three);
    const home = bridges.get(best ?? "");
    if (home) home.down = true;
    const session = await client.join({ userId: user, roomName: "r" });
    expect(session.stats().endpoint).toBe(second);
    // Nothing to do while the best bridge is passed over.
    expect(client.rebalance()).toBe(0);
    if (home) home.down = false;
    await new Promise((resolve) => setTimeout(resolve, 80));
    const moved: { from: string; to: string; reason: string; splice: string }[] = [];
    session.on("moved", (info) => moved.push(info));
    const audio = deviceAudio(20);
    const heard = collect(session, 20 * 640);
    const old = await bridges.get(second ?? "")?.waitForStreams(1);
    for (const chunk of audio.slice(0, 12)) old?.push(chunk);
    await until(() => session.stats().lastSequence === 12);
    expect(client.rebalance()).toBe(1);
    expect(session.rebalance()).toBe(false); // one move at a time
    await until(() => home?.streams.length === 1);
    expect(home?.handovers).toEqual([true]);
    for (const chunk of audio.slice(6, 20)) home?.streams[0]?.push(chunk);
    await until(() => moved.length === 1);
    expect(moved[0]).toMatchObject({
      from: second,
      to: best,
      reason: "rebalance",
      splice: "exact",
    });
    const expected = new Uint8Array(20 * 640);
    for (const [i, chunk] of audio.entries()) expected.set(chunk.pcmData, i * 640);
    expect(await heard).toEqual(expected);
    expect(session.stats().endpoint).toBe(best);
    expect(client.rebalance()).toBe(0);
    await session.leave();
  });
});
