import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { e2eGate, namespacesOwnedBy, pidAlive, pidsInNamespace } from "@mentra/livekit-rig";
import { recordFault } from "@mentra/test-kit";
import { afterEach, describe, expect, it } from "vitest";
import { BRIDGE_MAIN, type BridgeProcess, startBridgeProcess } from "../support/bridge-process.js";
import { HEALTH_PATH, percentile, probe, probeWhile } from "../support/health-probe.js";

// The bridge as `npm start` runs it (its own process, the embedded LiveKit in a namespace)
// under a descriptor limit lowered with prlimit, so a flood of a few thousand connections
// reaches EMFILE, as 20,000 did at the default limit (issue #17, finding 2).

const ATTACKER = fileURLToPath(new URL("../support/attacker.mjs", import.meta.url));
const CRASH_PRELOAD = fileURLToPath(new URL("../support/crash-on-sigusr2.mjs", import.meta.url));
const GC_PRELOAD = fileURLToPath(new URL("../support/gc-on-sigusr2.mjs", import.meta.url));
const NOFILE = 1024;
const gate = await e2eGate();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The bridge under a lowered descriptor limit, its embedded LiveKit isolated; stderr kept.
 * Resolves once rtc-node has loaded too (it loads after listening, with its own descriptors
 * and heap), so the figures read next are the settled baseline.
 */
async function startBridge(
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<BridgeProcess> {
  const bridge = await startBridgeProcess({
    command: "prlimit",
    args: [`--nofile=${NOFILE}:${NOFILE}`, "--", process.execPath, ...nodeArgs, BRIDGE_MAIN],
    env: { LIVEKIT_URL: "", LIVEKIT_EMBEDDED_ISOLATE: "on", LOG_LEVEL: "info", ...env },
    keepChars: 200_000,
    listenTimeoutMs: 30_000,
  });
  const deadline = performance.now() + 10_000;
  while (!bridge.output().includes('"rtc-node loaded"') && performance.now() < deadline) {
    await sleep(50);
  }
  return bridge;
}

function descriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * The heap the bridge still holds after full collections (the GC preload runs them). Two,
 * 300 ms apart: what closed sockets' native handles release is only collectable after the
 * first (measured after a flood: 22.4 MB after one, 19.9 after the second, 19.3 before).
 */
async function heldHeapMb(pid: number, port: number): Promise<number> {
  for (let i = 0; i < 2; i++) {
    process.kill(pid, "SIGUSR2");
    await sleep(300);
  }
  return heapUsedMb(port);
}

async function heapUsedMb(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}${HEALTH_PATH}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  const body = (await response.json()) as { metadata: Record<string, string> };
  return Number(body.metadata.heap_used_bytes) / 1024 / 1024;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** The kernel's count of connections dropped because a listen queue was full (all sockets). */
function listenOverflows(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  const names = lines.find((line) => line.startsWith("TcpExt:"))?.split(" ") ?? [];
  const values = lines.filter((line) => line.startsWith("TcpExt:"))[1]?.split(" ") ?? [];
  return Number(values[names.indexOf("ListenOverflows")] ?? 0);
}

interface AttackSummary {
  opened: number;
  closedByBridge: number;
  peakOpen: number;
  ms: number;
}

function attack(args: string[]): { proc: ChildProcess; done: Promise<AttackSummary> } {
  const proc = spawn(process.execPath, [ATTACKER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const done = once(proc, "exit").then(() => JSON.parse(out.trim()) as AttackSummary);
  return { proc, done };
}

/** Descriptors of `pid` once at most `most`, or as they are 10 s after `since`. */
async function descriptorsBackTo(pid: number, most: number, since: number): Promise<number> {
  let fds = descriptors(pid);
  while (fds > most && performance.now() - since < 10_000) {
    await sleep(200);
    fds = descriptors(pid);
  }
  return fds;
}

/** The processes a test starts go in here; each is SIGKILLed after the test if still running. */
function killedAfterEach(): ChildProcess[] {
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "exit");
      }
    }
  });
  return children;
}

const fmt = (ms: number) => ms.toFixed(1);

describe.skipIf(gate === "skip")("a bridge process under a connection flood", () => {
  const children = killedAfterEach();

  it("survives 3,000 preface-only HTTP/2 connections at a 1024-descriptor limit, answers HealthCheck on new connections throughout, and gives its descriptors back", async () => {
    // A memory check every 200 ms: before the fix, its read of /proc threw EMFILE within
    // a second of the flood and took the process down.
    const bridge = await startBridge({ RECYCLE_CHECK_MS: "200" }, [
      "--expose-gc",
      "--import",
      GC_PRELOAD,
    ]);
    children.push(bridge.proc);
    const namespace = namespacesOwnedBy(bridge.pid)[0] ?? "";
    const livekitPids = pidsInNamespace(namespace);
    expect(livekitPids.length).toBeGreaterThan(0);
    await probe(bridge.port);
    await sleep(500);
    const before = {
      fds: descriptors(bridge.pid),
      rssMb: rssMb(bridge.pid),
      heapMb: await heldHeapMb(bridge.pid, bridge.port),
    };

    const overflowsBefore = listenOverflows();
    const flood = attack(["preface", String(bridge.port), "3000", "6000", "0"]);
    children.push(flood.proc);
    let attacking = true;
    void flood.done.finally(() => {
      attacking = false;
    });
    let peakFds = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakFds = Math.max(peakFds, descriptors(bridge.pid));
      peakRss = Math.max(peakRss, rssMb(bridge.pid));
    }, 100);
    await sleep(100);
    const during = await probeWhile(bridge.port, 200, () => !attacking);
    clearInterval(sampler);
    const summary = await flood.done;
    const closedAt = performance.now();
    const overflows = listenOverflows() - overflowsBefore;
    const after = await probeWhile(bridge.port, 200, () => performance.now() - closedAt > 2000);

    // Descriptors and memory after the attackers are gone.
    const fds = await descriptorsBackTo(bridge.pid, before.fds + 5, closedAt);
    const recoveredMs = performance.now() - closedAt;
    // Resident memory: what V8 and the allocator give back within the same 10 s.
    let afterRss = rssMb(bridge.pid);
    while (afterRss > before.rssMb + 20 && performance.now() - closedAt < 10_000) {
      await sleep(500);
      afterRss = rssMb(bridge.pid);
    }
    const afterHeap = await heldHeapMb(bridge.pid, bridge.port);
    const evicted = await metric(bridge.port, "bridge_connections_closed_total");
    const acceptErrors = await metric(bridge.port, "bridge_accept_errors_total");

    const figures =
      `${summary.opened} connections opened in ${summary.ms} ms (${summary.closedByBridge} closed by the bridge, ` +
      `at most ${summary.peakOpen} open at once); bridge descriptors ${before.fds} before, at most ${peakFds} during, ${fds} ` +
      `${Math.round(recoveredMs)} ms after; HealthCheck on a new connection during: ${during.times.length} answered, ` +
      `p50 ${fmt(percentile(during.times, 50))} / max ${fmt(Math.max(...during.times))} ms, ${during.failures.length} failed ` +
      `(the kernel dropped ${overflows} connections at the full listen queue); ` +
      `after: p50 ${fmt(percentile(after.times, 50))} / max ${fmt(Math.max(...after.times))} ms; ` +
      `RSS ${fmt(before.rssMb)} → ${fmt(peakRss)} at most → ${fmt(afterRss)} MB 10 s after, heap after full GCs ${fmt(before.heapMb)} → ${fmt(afterHeap)} MB; ` +
      `connections closed by the bridge ${evicted}, accept errors ${acceptErrors}`;
    console.log(figures);

    expect(bridge.proc.exitCode).toBeNull();
    expect(livekitPids.every(pidAlive)).toBe(true);
    expect(summary.opened).toBeGreaterThanOrEqual(3000);
    // The bridge held at most a quarter of its descriptors for connections.
    expect(peakFds).toBeLessThan(NOFILE * 0.4);
    expect(peakFds).toBeGreaterThan(200);
    expect(during.failures).toEqual([]);
    expect(during.times.length).toBeGreaterThan(10);
    expect(after.failures).toEqual([]);
    // The listen queue holds the whole burst (backlog 4096; Node's default 511 overflowed:
    // the kernel dropped 1,100-2,300 SYNs, a HealthCheck's among them, retried a second
    // later, 0.6-1.2 s). Target 100 ms: met but for the probe that waits in the queue behind
    // the burst of 3,000 connections at once, each an HTTP/2 session to set up (measured
    // 170-760 ms on a busy machine).
    expect(overflows).toBe(0);
    expect(percentile(during.times, 50)).toBeLessThan(100);
    expect(Math.max(...during.times)).toBeLessThan(2000);
    expect(percentile(after.times, 50)).toBeLessThan(100);
    expect(fds).toBeLessThanOrEqual(before.fds + 5);
    expect(recoveredMs).toBeLessThan(10_000);
    // What the bridge still holds once the attackers are gone, after a full collection:
    // the 2,746 evicted connections must leave nothing behind (a leak of 1 KiB each is 2.7 MB).
    expect(afterHeap).toBeLessThan(before.heapMb + 3);
    expect(evicted).toBeGreaterThan(1000);

    recordFault({
      kind: "input",
      what: `3,000 HTTP/2 connections that send the preface and nothing else, held for 6 s (bridge process at a ${NOFILE}-descriptor limit, embedded LiveKit)`,
      expected:
        "the bridge and its LiveKit stay up; connections capped at a quarter of the descriptors, the idlest evicted; HealthCheck on a new connection within 100 ms during and after; descriptors back within 10 s",
      observed: figures,
      recoveryMs: recoveredMs,
    });
  }, 90_000);

  it("reaches EMFILE with MAX_CONNECTIONS above the descriptor limit, and survives it: service and descriptors back once the attackers leave", async () => {
    const bridge = await startBridge({ RECYCLE_CHECK_MS: "200", MAX_CONNECTIONS: "5000" });
    children.push(bridge.proc);
    const namespace = namespacesOwnedBy(bridge.pid)[0] ?? "";
    const livekitPids = pidsInNamespace(namespace);
    await probe(bridge.port);
    const beforeFds = descriptors(bridge.pid);
    const flood = attack(["preface", String(bridge.port), "3000", "4000", "0"]);
    children.push(flood.proc);
    let peakFds = 0;
    const sampler = setInterval(() => {
      peakFds = Math.max(peakFds, descriptors(bridge.pid));
    }, 100);
    const summary = await flood.done;
    clearInterval(sampler);
    const closedAt = performance.now();
    let answeredMs: number | undefined;
    while (answeredMs === undefined && performance.now() - closedAt < 10_000) {
      answeredMs = await probe(bridge.port).catch(() => undefined);
      if (answeredMs === undefined) await sleep(100);
    }
    const backMs = performance.now() - closedAt;
    const fds = await descriptorsBackTo(bridge.pid, beforeFds + 5, closedAt);
    const acceptErrors = await metric(bridge.port, "bridge_accept_errors_total");
    const figures =
      `${summary.opened} connections; bridge descriptors ${beforeFds} → ${peakFds} (limit ${NOFILE}) → ${fds}; ` +
      `the process survived EMFILE (memory checked every 200 ms meanwhile); accept errors reaching Node ${acceptErrors}; HealthCheck answered again ${Math.round(backMs)} ms after the attackers left (${fmt(answeredMs ?? Number.NaN)} ms)`;
    console.log(figures);
    expect(bridge.proc.exitCode).toBeNull();
    expect(livekitPids.every(pidAlive)).toBe(true);
    // EMFILE: every descriptor of the process in use.
    expect(peakFds).toBeGreaterThanOrEqual(NOFILE - 2);
    // libuv sheds a connection it cannot accept with a spare descriptor of its own and
    // tells Node nothing, so the counter only shows accept errors that reach Node.
    expect(acceptErrors).toBeGreaterThanOrEqual(0);
    expect(answeredMs).toBeDefined();
    expect(backMs).toBeLessThan(10_000);
    expect(fds).toBeLessThanOrEqual(beforeFds + 5);
    recordFault({
      kind: "input",
      what: `3,000 preface-only HTTP/2 connections with MAX_CONNECTIONS=5000 above the process's ${NOFILE}-descriptor limit (every descriptor in use: EMFILE)`,
      expected:
        "no crash (accept errors and memory reads tolerate EMFILE); HealthCheck and descriptors back within 10 s of the attackers leaving",
      observed: figures,
      recoveryMs: backMs,
    });
  }, 90_000);
});

describe.skipIf(gate === "skip")("what a dying bridge leaves behind", () => {
  const children = killedAfterEach();

  /** Files under /tmp changed since `since` that contain `secret`. */
  function tmpFilesWith(secret: string, since: number): string[] {
    const found: string[] = [];
    const walk = (dir: string, depth: number) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of names) {
        const path = join(dir, name);
        try {
          const stats = statSync(path);
          if (stats.isDirectory()) {
            if (depth < 3 && stats.mtimeMs >= since - 1000) walk(path, depth + 1);
          } else if (stats.isFile() && stats.mtimeMs >= since && stats.size < 1_000_000) {
            if (readFileSync(path, "latin1").includes(secret)) found.push(path);
          }
        } catch {
          // Gone meanwhile.
        }
      }
    };
    walk(tmpdir(), 0);
    return found;
  }

  for (const how of ["an uncaught exception", "SIGKILL"] as const) {
    it(`keeps the LiveKit secret out of files and removes its namespace and LiveKit on ${how}`, async () => {
      const since = Date.now();
      const bridge = await startBridge({}, ["--import", CRASH_PRELOAD]);
      children.push(bridge.proc);
      const namespace = namespacesOwnedBy(bridge.pid)[0] ?? "";
      const livekitPids = pidsInNamespace(namespace);
      expect(livekitPids.length).toBeGreaterThan(0);
      const livekitPid = livekitPids[0] ?? 0;
      // The secret, as livekit-server got it: in its environment, readable by root only.
      const environ = readFileSync(`/proc/${livekitPid}/environ`, "utf8").split("\0");
      const config = environ.find((entry) => entry.startsWith("LIVEKIT_CONFIG="))?.slice(15) ?? "";
      const keys = (JSON.parse(config) as { keys: Record<string, string> }).keys;
      const secret = Object.values(keys)[0] ?? "";
      expect(secret.length).toBeGreaterThan(16);
      const cmdline = readFileSync(`/proc/${livekitPid}/cmdline`, "utf8");
      expect(cmdline).not.toContain(secret);
      expect(tmpFilesWith(secret, since)).toEqual([]);

      const exited = once(bridge.proc, "exit");
      const t0 = performance.now();
      bridge.proc.kill(how === "SIGKILL" ? "SIGKILL" : "SIGUSR2");
      const [code, signal] = (await exited) as [number | null, string | null];
      let left = namespacesOwnedBy(bridge.pid);
      while ((left.length > 0 || livekitPids.some(pidAlive)) && performance.now() - t0 < 5000) {
        await sleep(50);
        left = namespacesOwnedBy(bridge.pid);
      }
      const cleanMs = performance.now() - t0;
      const links = execFileSync("ip", ["-o", "link"], { encoding: "utf8" });
      const hostLink = `mlkh${namespace.split("-")[2] ?? "none"}`;
      const stderr = bridge.output();
      const observed =
        `exit ${code ?? signal}; namespace and LiveKit gone ${Math.round(cleanMs)} ms after ${how}; ` +
        `secret in LIVEKIT_CONFIG of livekit-server's environment only (not its command line, no file under ${tmpdir()})`;
      console.log(observed);
      if (how === "SIGKILL") expect(signal).toBe("SIGKILL");
      else {
        expect(code).toBe(1);
        expect(stderr).toContain("induced crash (test)");
      }
      expect(left).toEqual([]);
      expect(livekitPids.filter(pidAlive)).toEqual([]);
      expect(links).not.toContain(hostLink);
      expect(tmpFilesWith(secret, since)).toEqual([]);
      expect(stderr).not.toContain(secret);
      recordFault({
        kind: "fault",
        what: `The bridge process (embedded LiveKit in its namespace) dies by ${how}`,
        expected:
          "the network namespace, its veth and livekit-server are removed; the LiveKit secret was never in a file or on a command line",
        observed,
        recoveryMs: cleanMs,
      });
    }, 60_000);
  }
});
