import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { type LiveKitRig, startLiveKit } from "../src/start-livekit.js";

const gate = await e2eGate();
const ECHO_PORT = 7999;

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(500) })).ok;
  } catch {
    return false;
  }
}

/** Sends `count` numbered datagrams to the echo server and counts the distinct replies. */
async function echoed(host: string, count: number): Promise<number> {
  const socket = createSocket("udp4");
  const seen = new Set<number>();
  socket.on("message", (message) => seen.add(message.readUInt32BE(0)));
  await new Promise<void>((resolve) => socket.bind(0, "0.0.0.0", resolve));
  try {
    for (let i = 0; i < count; i++) {
      const datagram = Buffer.alloc(4);
      datagram.writeUInt32BE(i);
      socket.send(datagram, ECHO_PORT, host);
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    return seen.size;
  } finally {
    socket.close();
  }
}

/** Median round trip of 20 datagrams to the echo server, 20 ms apart. */
async function medianRtt(host: string): Promise<number> {
  const socket = createSocket("udp4");
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  socket.on("message", (message) => {
    const id = message.readUInt32BE(0);
    rtts.push(performance.now() - (sentAt.get(id) ?? 0));
  });
  await new Promise<void>((resolve) => socket.bind(0, "0.0.0.0", resolve));
  try {
    for (let i = 0; i < 20; i++) {
      const datagram = Buffer.alloc(4);
      datagram.writeUInt32BE(i);
      sentAt.set(i, performance.now());
      socket.send(datagram, ECHO_PORT, host);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
    rtts.sort((a, b) => a - b);
    expect(rtts.length).toBe(20);
    return rtts[10] ?? Number.NaN;
  } finally {
    socket.close();
  }
}

describe.runIf(gate === "run")("network faults on the rig's link (real namespace)", () => {
  let rig: LiveKitRig;
  let echo: ChildProcess | undefined;
  let nsIp = "";

  beforeAll(async () => {
    rig = await startLiveKit({ isolate: "on" });
    nsIp = new URL(rig.httpUrl).hostname;
    // A UDP echo server inside the namespace, on the namespace's address only.
    const script = `const s=require("node:dgram").createSocket("udp4");s.on("message",(m,r)=>s.send(m,r.port,r.address));s.bind(${ECHO_PORT},"${nsIp}",()=>console.log("ready"));`;
    echo = spawn("ip", ["netns", "exec", rig.namespace ?? "", process.execPath, "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await once(echo.stdout ?? echo, "data");
  }, 60_000);
  afterAll(async () => {
    echo?.kill("SIGKILL");
    await rig?.close();
  });

  it("takes the link down and brings it back", async () => {
    const network = rig.network;
    if (network === undefined) throw new Error("an isolated rig has network faults");
    expect(await answers(rig.httpUrl)).toBe(true);
    await network.setLinkDown(true);
    expect(await answers(rig.httpUrl)).toBe(false);
    expect(await echoed(nsIp, 50)).toBe(0);
    await network.setLinkDown(false);
    // The kernel restores the namespace's route with the link; allow it a moment.
    let back = false;
    for (let i = 0; i < 20 && !back; i++) back = await answers(rig.httpUrl);
    expect(back).toBe(true);
    expect(await echoed(nsIp, 50)).toBe(50);
  });

  it("drops the given share of packets each way, and nothing once cleared", async () => {
    const network = rig.network;
    if (network === undefined) throw new Error("an isolated rig has network faults");
    expect(await echoed(nsIp, 1000)).toBe(1000);
    await network.setLoss(0.3);
    // A round trip survives with probability 0.7² = 0.49; 1000 tries land in
    // [0.40, 0.58] with overwhelming probability (±5.7 standard deviations).
    const kept = (await echoed(nsIp, 1000)) / 1000;
    expect(kept).toBeGreaterThan(0.4);
    expect(kept).toBeLessThan(0.58);
    await expect(network.setLoss(1)).rejects.toThrow(/fraction in \[0, 1\)/);
    await network.clear();
    expect(await echoed(nsIp, 1000)).toBe(1000);
  });

  it("holds packets leaving the namespace for the given delay, and not once it ends", async () => {
    const network = rig.network;
    if (network === undefined) throw new Error("an isolated rig has network faults");
    const before = await medianRtt(nsIp);
    await network.setDelay(100);
    const during = await medianRtt(nsIp);
    expect(await echoed(nsIp, 200)).toBe(200); // delayed, not lost
    await network.setDelay(0);
    const after = await medianRtt(nsIp);
    expect(before).toBeLessThan(20);
    expect(during).toBeGreaterThanOrEqual(100);
    expect(during).toBeLessThan(140);
    expect(after).toBeLessThan(20);
    await expect(network.setDelay(-1)).rejects.toThrow(/delay must be 0..10000 ms/);
  });
});
