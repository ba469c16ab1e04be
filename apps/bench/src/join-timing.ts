#!/usr/bin/env node
// How long joining takes on the built bridge when k users join at once (as when a bridge
// dies and its users land on the next one), on the bench rig (a local livekit-server, one
// bridge process), with a device in every room first. Prints each batch's join times, the
// CPU the bridge, livekit-server and this process (the devices) spent on it, and the
// bridge's CPU per thread (libwebrtc's network thread dominates). TALK_S=n then has every
// device send a 100 ms data packet every 100 ms for n seconds and prints what receiving
// them costs the bridge. Usage (after a build, which `npm run bench` does):
//   [TALK_S=10] node apps/bench/dist/join-timing.js [k,k,...]
import { createDeviceSender, joinParticipant, type TestParticipant } from "@mentra/test-kit";
import { startBenchRig } from "./bench-rig.js";
import { findDescendants, readProcess, readThreadCpu, threadCpuPct } from "./proc.js";
import { sleep } from "./sleep.js";

process.env.NODE_ENV ??= "production"; // quiets rtc-node's debug log
const counts = (process.argv[2] ?? "1,5,10")
  .split(",")
  .map(Number)
  .filter((k) => k > 0 && k <= 30);
const talkSeconds = Math.min(Number(process.env.TALK_S ?? 0), 120);
const rig = await startBenchRig((line) => console.log(line));
const devices: TestParticipant[] = [];
try {
  const [serverPid] = findDescendants(process.pid, "livekit-server");
  const cpu = () =>
    [rig.bridgePid, serverPid ?? 0, process.pid].map((pid) => readProcess(pid).cpuSeconds);
  let n = 0;
  for (const k of counts) {
    const users = Array.from({ length: k }, () => `jt-${n++}`);
    for (const user of users)
      devices.push(await joinParticipant(rig.creds, `room-${user}`, "glasses"));
    await sleep(1_000);
    const cpuBefore = cpu();
    const threadsBefore = readThreadCpu(rig.bridgePid);
    const started = performance.now();
    const took = await Promise.all(
      users.map(async (userId) => {
        await rig.client.join({ userId, roomName: `room-${userId}`, targetIdentity: "glasses" });
        return Math.round(performance.now() - started);
      }),
    );
    const [bridgeMs, serverMs, devicesMs] = cpu().map((after, i) =>
      Math.round((after - (cpuBefore[i] ?? 0)) * 1_000),
    );
    console.log(
      `${k} at once: ${took.sort((a, b) => a - b).join(", ")} ms; CPU ms: bridge ${bridgeMs}, livekit-server ${serverMs}, devices ${devicesMs}`,
    );
    const elapsed = (Math.max(...took) || 1) / 1_000;
    const threads = threadCpuPct(threadsBefore, readThreadCpu(rig.bridgePid), elapsed);
    console.log(
      `  bridge threads meanwhile (% of a core): ${Object.entries(threads)
        .map(([name, pct]) => `${name} ${Math.round(pct)}`)
        .join(", ")}`,
    );
    await sleep(1_000);
  }
  if (talkSeconds > 0) {
    // No stream is open: this is the receiving side's cost alone.
    // 100 ms a round, as the phone sends it: five 20 ms packets with a sequence byte each.
    const packet = new Uint8Array(3_200).fill(1);
    const phones = devices.map((device) =>
      createDeviceSender((p, o) => device.sendData(p, o), { paced: false }),
    );
    const cpuBefore = readProcess(rig.bridgePid).cpuSeconds;
    const threadsBefore = readThreadCpu(rig.bridgePid);
    const started = Date.now();
    for (let round = 0; round < talkSeconds * 10; round++) {
      await Promise.all(phones.map((phone) => phone.send(packet).catch(() => {})));
      await sleep(started + (round + 1) * 100 - Date.now());
    }
    const seconds = (Date.now() - started) / 1_000;
    const pct = (100 * (readProcess(rig.bridgePid).cpuSeconds - cpuBefore)) / seconds;
    const threads = threadCpuPct(threadsBefore, readThreadCpu(rig.bridgePid), seconds);
    console.log(
      `${devices.length} devices talking: bridge ${Math.round(pct)}% of a core (${Object.entries(
        threads,
      )
        .map(([name, p]) => `${name} ${Math.round(p)}%`)
        .join(", ")})`,
    );
  }
} finally {
  for (const device of devices) await device.close().catch(() => {});
  await rig.close();
}
// As `npm run bench` does: rtc-node's native side would keep the process alive.
process.exit(0);
