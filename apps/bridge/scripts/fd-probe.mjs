#!/usr/bin/env node
// Diagnostic: join N sessions through the built bridge process (real livekit-server in its
// own namespace), LeaveRoom all, and print the bridge's descriptors by kind (from
// /proc/<pid>/fd and /proc/<pid>/net/*) over time; SIGUSR2 makes the bridge run a full GC
// (preloaded hook) at GC_AT_S, to tell GC-driven release from none. How the descriptors a
// settled, left room kept beside a room still open were found (room-link.ts RTC_CONFIG).
// Usage (root, from apps/bridge, after the build):
//   node scripts/fd-probe.mjs [N=10] [stream]
// env: ANCHOR=k rooms joined first and left last (a running user), HOLD_S seconds in the
// rooms before leaving (2; 8 lets ICE settle), WATCH_S seconds watched after (20), GC_AT_S
// (12), EVERY_MS (500), MAX_SESSIONS (100), SS=1 prints ss's sockets at the end.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { startLiveKit } from "@mentra/livekit-rig";

const N = Number(process.argv[2] ?? 10);
const withStream = process.argv[3] === "stream";
const WATCH_S = Number(process.env.WATCH_S ?? 20);
const GC_AT_S = Number(process.env.GC_AT_S ?? 12);
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const HOOK = "/tmp/fd-probe-gc-hook.cjs";
writeFileSync(HOOK, "process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); });\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function kinds(pid) {
  const protocolOf = new Map();
  for (const proto of ["tcp", "tcp6", "udp", "udp6", "unix"]) {
    try {
      for (const line of readFileSync(`/proc/${pid}/net/${proto}`, "utf8").split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        const inode = proto === "unix" ? cols[6] : cols[9];
        if (inode !== undefined) protocolOf.set(inode, proto);
      }
    } catch {}
  }
  const out = { total: 0 };
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let t = "gone";
    try {
      t = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {}
    const inode = /^socket:\[(\d+)\]$/.exec(t)?.[1];
    t = inode
      ? `s:${protocolOf.get(inode) ?? "other"}`
      : t.replace(/\[\d+\]$/, "").replace(/^\/.*/, "file");
    out[t] = (out[t] ?? 0) + 1;
    out.total++;
  }
  return out;
}

const rig = await startLiveKit({ isolate: "on" });
const proc = spawn(process.execPath, ["--expose-gc", "--require", HOOK, MAIN], {
  env: {
    ...process.env,
    NODE_ENV: "production",
    BRIDGE_HOST: "127.0.0.1",
    BRIDGE_PORT: "0",
    LIVEKIT_URL: rig.url,
    LIVEKIT_API_KEY: rig.apiKey,
    LIVEKIT_API_SECRET: rig.apiSecret,
    LOG_LEVEL: process.env.BRIDGE_LOG_LEVEL ?? "info",
    MAX_SESSIONS: process.env.MAX_SESSIONS ?? "100",
    STREAM_GRACE_MS: "600000",
  },
  stdio: ["ignore", "ignore", "pipe"],
});
let log = "";
const port = await new Promise((resolve) => {
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (t) => {
    log += t;
    if (process.env.SHOW_LOG) process.stderr.write(t);
    const line = log.split("\n").find((l) => l.includes('"bridge listening"'));
    if (line) resolve(JSON.parse(line).port);
  });
});
const client = createClient(
  LiveKitBridge,
  createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }),
);
try {
  // One warm-up session so rtc-node's process-wide threads and sockets exist in the baseline.
  await client.joinRoom({ userId: "warm", roomName: `warm-${Date.now()}` });
  await client.leaveRoom({ userId: "warm" });
  const anchors = Array.from({ length: Number(process.env.ANCHOR ?? 0) }, (_, i) => `anchor${i}`);
  for (const a of anchors) await client.joinRoom({ userId: a, roomName: `${a}-${Date.now()}` });
  await sleep(3_000);
  const base = kinds(proc.pid);
  console.log("baseline", JSON.stringify(base));
  const users = Array.from({ length: N }, (_, i) => ({
    userId: `u${i}`,
    roomName: `r${i}-${Date.now()}`,
  }));
  const t0 = performance.now();
  const outcomes = await Promise.all(
    users.map((u) =>
      client.joinRoom(u).then(
        (j) => (j.success ? "joined" : "failed"),
        (e) => String(e.code),
      ),
    ),
  );
  const tally = {};
  for (const o of outcomes) tally[o] = (tally[o] ?? 0) + 1;
  console.log(
    `joins in ${Math.round(performance.now() - t0)} ms`,
    JSON.stringify(tally),
    JSON.stringify(kinds(proc.pid)),
  );
  const streams = [];
  if (withStream) {
    for (const u of users) {
      const ac = new AbortController();
      async function* reqs() {
        yield { userId: u.userId, sampleRate: 16_000 };
        await new Promise((r) => ac.signal.addEventListener("abort", r));
      }
      const done = (async () => {
        try {
          for await (const _ of client.streamAudio(reqs(), { signal: ac.signal })) {
          }
        } catch {}
      })();
      streams.push({ ac, done });
    }
    await sleep(1_000);
  }
  const HOLD_S = Number(process.env.HOLD_S ?? 2);
  const joinedAt = performance.now();
  while (performance.now() - joinedAt < HOLD_S * 1000) {
    await sleep(1_000);
    console.log(
      `in rooms t=${((performance.now() - joinedAt) / 1000).toFixed(1)}s`,
      JSON.stringify(kinds(proc.pid)),
    );
  }
  const leftAt = performance.now();
  await Promise.all(
    users
      .filter((_, i) => outcomes[i] === "joined")
      .map((u) => client.leaveRoom({ userId: u.userId })),
  );
  for (const s of streams) s.ac.abort();
  await Promise.all(streams.map((s) => s.done));
  console.log(`left in ${Math.round(performance.now() - leftAt)} ms`);
  let gcDone = false;
  while (performance.now() - leftAt < WATCH_S * 1000) {
    const t = (performance.now() - leftAt) / 1000;
    if (!gcDone && t >= GC_AT_S) {
      proc.kill("SIGUSR2");
      gcDone = true;
      console.log(`t=${t.toFixed(1)}s  --- GC ---`);
    }
    console.log(`t=${t.toFixed(1)}s`, JSON.stringify(kinds(proc.pid)));
    await sleep(Number(process.env.EVERY_MS ?? 500));
  }
  for (const a of anchors) {
    await client.leaveRoom({ userId: a });
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      console.log(`${a} left +${(i + 1) * 0.5}s`, JSON.stringify(kinds(proc.pid)));
    }
  }
  if (process.env.SS) {
    const { execSync } = await import("node:child_process");
    console.log(
      execSync(
        `ss -tuanp | grep "pid=${proc.pid}," | awk '{print $1, $2, $5, $6}' | sed -E 's/:[0-9]+ / /g' | sort | uniq -c | sort -rn | head -40`,
      ).toString(),
    );
  }
} finally {
  const exited = once(proc, "exit");
  proc.kill("SIGTERM");
  await exited;
  await rig.close();
}
