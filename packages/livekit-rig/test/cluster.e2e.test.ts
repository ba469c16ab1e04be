import {
  heardTone,
  joinParticipant,
  listParticipantIdentities,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { run } from "../src/exec.js";
import { pidAlive, pidsInNamespace } from "../src/netns.js";
import { redisCommand } from "../src/redis.js";
import { type LiveKitCluster, startLiveKitCluster } from "../src/start-cluster.js";

const gate = await e2eGate();

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

describe.runIf(gate === "run")("LiveKit cluster (two livekit-server nodes, one Redis)", () => {
  let cluster: LiveKitCluster;
  const participants: TestParticipant[] = [];

  beforeAll(async () => {
    const started = performance.now();
    cluster = await startLiveKitCluster({ nodes: 2 });
    console.log(
      `[cluster] Redis and 2 nodes answered in ${Math.round(performance.now() - started)} ms`,
    );
  });

  afterAll(async () => {
    await Promise.all(participants.map((p) => p.close()));
    await cluster?.close();
  });

  const registeredNodes = async () => (await cluster.redis.command("HKEYS", "nodes")) as string[];

  it("runs both nodes on their own ports against one Redis bound inside the namespace", async () => {
    const [node0, node1] = cluster.nodes;
    expect(cluster.nodes).toHaveLength(2);
    expect(node0?.url).toMatch(/^ws:\/\/[\d.]+:7880$/);
    expect(node1?.url).toMatch(/^ws:\/\/[\d.]+:7890$/);
    expect(await answers(node0?.httpUrl ?? "")).toBe(true);
    expect(await answers(node1?.httpUrl ?? "")).toBe(true);

    // Both nodes registered in the shared Redis: they are one cluster.
    await waitFor(async () => (await registeredNodes()).length === 2, {
      timeoutMs: 10_000,
      description: "both nodes to register in Redis",
    });
    // Redis listens on the namespace's address only, and keeps nothing on disk.
    const host = new URL(node0?.url ?? "").hostname;
    expect(cluster.redis.host).toBe(host);
    expect(await cluster.redis.command("CONFIG", "GET", "bind")).toEqual(["bind", host]);
    expect(await cluster.redis.command("CONFIG", "GET", "save")).toEqual(["save", ""]);
    expect(await cluster.redis.command("CONFIG", "GET", "appendonly")).toEqual([
      "appendonly",
      "no",
    ]);
    // Without the password it refuses to answer.
    await expect(redisCommand({ ...cluster.redis, password: "wrong" }, ["PING"])).rejects.toThrow(
      /WRONGPASS/,
    );
  });

  it("carries a 440 Hz tone from a participant on node 0 to one on node 1, in one room", async () => {
    const [node0, node1] = cluster.nodes;
    if (!node0 || !node1) throw new Error("the cluster has fewer than 2 nodes");
    const room = "cluster-room";
    const speaker = await joinParticipant(node0, room, "speaker");
    const listener = await joinParticipant(node1, room, "listener");
    participants.push(speaker, listener);

    // The room service of either node sees the one room with both participants.
    for (const node of [node0, node1]) {
      await waitFor(
        async () => (await listParticipantIdentities(node, room)).join() === "listener,speaker",
        {
          timeoutMs: 10_000,
          intervalMs: 100,
          description: `both participants listed by node ${node.index}`,
        },
      );
    }
    // The room lives on exactly one of the registered nodes; the other relays to it.
    const host = await cluster.redis.command("HGET", "room_node_map", room);
    expect(await registeredNodes()).toContain(host);

    const sampleRate = 48_000;
    const recorder = listener.recordAudio("speaker", sampleRate);
    // Lead-in silence lets the subscription settle before the tone starts.
    const pcm = new Int16Array(sampleRate * 2.3);
    pcm.set(sineTone({ frequencyHz: 440, sampleRate, durationMs: 1000 }), sampleRate);
    const publishing = speaker.publishPcm(pcm, { sampleRate });
    await recorder.subscribed;
    await publishing;
    const received = await recorder.stop();

    const { frequencyHz: frequency, audibleMs: durationMs } = heardTone(received, sampleRate);
    console.log(
      `[cluster] room on node ${host}: ${received.length} samples received, ` +
        `${durationMs} ms audible at ${frequency} Hz`,
    );
    expect(Math.abs(frequency - 440)).toBeLessThan(3);
    expect(durationMs).toBeGreaterThanOrEqual(960);
    expect(durationMs).toBeLessThanOrEqual(1040);
  }, 60_000);

  it("stops and starts one node while the other keeps serving", async () => {
    const [node0, node1] = cluster.nodes;
    if (!node0 || !node1) throw new Error("the cluster has fewer than 2 nodes");
    await Promise.all(participants.splice(0).map((p) => p.close()));

    await node1.stop();
    expect(await answers(node1.httpUrl)).toBe(false);
    expect(await answers(node0.httpUrl)).toBe(true);
    // A node that stops cleanly takes itself out of the cluster.
    await waitFor(async () => (await registeredNodes()).length === 1, {
      timeoutMs: 10_000,
      description: "node 1 to unregister",
    });
    await node1.stop(); // already stopped: a no-op

    await node1.start();
    await node1.start(); // already running: a no-op
    expect(await answers(node1.httpUrl)).toBe(true);
    await waitFor(async () => (await registeredNodes()).length === 2, {
      timeoutMs: 10_000,
      description: "node 1 to register again",
    });
    // And it serves the cluster's rooms again: a participant joined through node 0 is
    // listed by node 1.
    const probe = await joinParticipant(node0, "after-restart", "probe");
    participants.push(probe);
    await waitFor(
      async () => (await listParticipantIdentities(node1, "after-restart")).join() === "probe",
      { timeoutMs: 10_000, description: "probe listed by node 1" },
    );
  }, 60_000);

  it("close stops Redis and every node and removes the namespace", async () => {
    await Promise.all(participants.splice(0).map((p) => p.close()));
    const namespace = cluster.namespace;
    const pids = pidsInNamespace(namespace);
    // Redis and two livekit-server nodes, nothing else.
    expect(pids).toHaveLength(3);
    await cluster.close();
    await cluster.close(); // idempotent
    expect(pids.filter(pidAlive)).toEqual([]);
    for (const node of cluster.nodes) expect(await answers(node.httpUrl)).toBe(false);
    await expect(cluster.redis.command("PING")).rejects.toThrow();
    await expect(cluster.nodes[0]?.restart()).rejects.toThrow(/closed/);
    await expect(cluster.nodes[1]?.start()).rejects.toThrow(/closed/);
    expect(await run("ip", ["netns", "list"])).not.toContain(namespace);
  });
});
