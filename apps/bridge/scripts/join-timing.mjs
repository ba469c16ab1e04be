#!/usr/bin/env node
// How long JoinRoom takes on the built bridge when k users join at once (as when a bridge
// dies and its users land on the next one): a local livekit-server in its own namespace,
// one bridge process, a device in every room first. Prints each batch's join times, the CPU
// the bridge, livekit-server and the devices spent on it, and the bridge's CPU per thread
// (libwebrtc's network thread dominates). TALK_S=n then has every device send a 100 ms
// data packet every 100 ms for n seconds and prints what receiving them costs the bridge.
// Usage (as root, from the repo, after a build):
//   [TALK_S=10] node apps/bridge/scripts/join-timing.mjs [k,k,...]
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { quietNativeLogs } from "@mentra/livekit-native-logs";
import { startLiveKit } from "@mentra/livekit-rig";
import { freePort, joinParticipant } from "@mentra/test-kit";

quietNativeLogs();
const counts = (process.argv[2] ?? "1,5,10")
  .split(",")
  .map(Number)
  .filter((k) => k > 0 && k <= 30);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const livekit = await startLiveKit({ isolate: "on" });
const port = await freePort();
const main = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const bridge = spawn("node", [main], {
  env: {
    ...process.env,
    BRIDGE_PORT: String(port),
    LIVEKIT_URL: livekit.url,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
  },
  stdio: ["ignore", "ignore", "inherit"],
});
const rpc = createClient(
  LiveKitBridge,
  createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
);
const devices = [];
/** CPU milliseconds a process has used (user + system). */
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
/** CPU milliseconds per thread name of a process. */
const threadCpu = (pid) => {
  const out = new Map();
  for (const tid of execFileSync("ls", [`/proc/${pid}/task`])
    .toString()
    .split(/\s+/)
    .filter(Boolean)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/[0-9]+$/, "#");
      const fields = stat.split(") ")[1].split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {}
  }
  return out;
};
const serverPid = () => Number(execFileSync("pgrep", ["-n", "livekit-server"]).toString().trim());

try {
  for (let tries = 0; ; tries++) {
    try {
      await rpc.healthCheck({});
      break;
    } catch {
      if (tries > 200) throw new Error("the bridge did not start");
      await sleep(50);
    }
  }
  let n = 0;
  for (const k of counts) {
    const users = Array.from({ length: k }, () => `jt-${n++}`);
    for (const user of users)
      devices.push(await joinParticipant(livekit, `room-${user}`, "glasses"));
    await sleep(1_000);
    const cpuBefore = [cpuMs(bridge.pid), cpuMs(serverPid()), cpuMs(process.pid)];
    const threadsBefore = threadCpu(bridge.pid);
    const started = performance.now();
    const took = await Promise.all(
      users.map(async (userId) => {
        const response = await rpc.joinRoom({
          userId,
          roomName: `room-${userId}`,
          targetIdentity: "glasses",
        });
        if (!response.success) throw new Error(response.error);
        return Math.round(performance.now() - started);
      }),
    );
    const [bridgeCpu, serverCpu, selfCpu] = [
      cpuMs(bridge.pid),
      cpuMs(serverPid()),
      cpuMs(process.pid),
    ].map((after, i) => after - cpuBefore[i]);
    console.log(
      `${k} at once: ${took.sort((a, b) => a - b).join(", ")} ms; CPU ms: bridge ${bridgeCpu}, livekit-server ${serverCpu}, devices ${selfCpu}`,
    );
    const threads = [...threadCpu(bridge.pid)]
      .map(([name, ms]) => [name, ms - (threadsBefore.get(name) ?? 0)])
      .filter(([, ms]) => ms > 0)
      .sort((a, b) => b[1] - a[1]);
    console.log(`  bridge threads: ${threads.map(([name, ms]) => `${name} ${ms}`).join(", ")}`);
    await sleep(1_000);
  }
  if (process.env.TALK_S) {
    // Every device sends a 100 ms data packet every 100 ms; the bridge forwards to nobody
    // (no stream is open), so this is the receiving side's cost alone.
    const packet = new Uint8Array(3_200).fill(1);
    const before = [cpuMs(bridge.pid), threadCpu(bridge.pid)];
    const started = Date.now();
    for (let round = 0; round < Number(process.env.TALK_S) * 10; round++) {
      await Promise.all(devices.map((device) => device.sendData(packet).catch(() => {})));
      await sleep(started + (round + 1) * 100 - Date.now());
    }
    const seconds = (Date.now() - started) / 1_000;
    const threads = [...threadCpu(bridge.pid)]
      .map(([name, ms]) => [name, Math.round((ms - (before[1].get(name) ?? 0)) / seconds / 10)])
      .filter(([, pct]) => pct > 0);
    console.log(
      `${devices.length} devices talking: bridge ${Math.round((cpuMs(bridge.pid) - before[0]) / seconds / 10)}% of a core (${threads.map(([n, p]) => `${n} ${p}%`).join(", ")})`,
    );
  }
} finally {
  for (const device of devices) await device.close().catch(() => {});
  bridge.kill("SIGKILL");
  await livekit.close();
}
