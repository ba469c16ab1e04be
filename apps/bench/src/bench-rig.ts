import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import * as http from "node:http";
import type * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BridgeClient, createBridgeClient } from "@mentra/bridge-client";
import { startLiveKit } from "@mentra/livekit-rig";
import { freePort, type LiveKitCredentials, localBridgeEnv } from "@mentra/test-kit";
import { type BridgeCounters, readCounters } from "./bridge-counters.js";
import { BRIDGE_MAIN, BRIDGE_NODE_FLAGS } from "./bridge-launch.js";
import { type BridgeProbe, createBridgeProbe } from "./bridge-probe.js";
import type { RunSignal } from "./cli.js";
import { sleep } from "./sleep.js";

const PRELOAD = fileURLToPath(new URL("./bridge-preload.js", import.meta.url));
const MP3 = fileURLToPath(
  new URL("../../bridge/test/fixtures/mp3-16k-mono-3s-740.mp3", import.meta.url),
);

/** Everything a run needs: LiveKit, the bridge process, a client and an MP3 to play. */
export interface BenchRig {
  readonly creds: LiveKitCredentials;
  readonly client: BridgeClient;
  /** A new client of the bridge, on its own HTTP/2 connection; the caller closes it. */
  connect(): BridgeClient;
  readonly bridgePid: number;
  readonly probe: BridgeProbe;
  /** The bridge's Prometheus text (GET /metrics). */
  metrics(): Promise<string>;
  /** A 3 s MP3 on a loopback HTTP server (the bridge runs with PLAYBACK_ALLOW_HOSTS=127.0.0.1). */
  readonly mp3Url: string;
  /**
   * Makes the bridge run a full garbage collection, by asking it for a heap snapshot (V8
   * collects first) and deleting the file: lazily collected garbage then no longer reads
   * as a leak. Resolves when the snapshot is written (bounded at 60 s).
   */
  collectGarbage(): Promise<void>;
  /** GC and FFI counters from inside the bridge (with --profile only), else undefined. */
  counters(): BridgeCounters | undefined;
  /** The last few kB of the bridge's stderr. */
  bridgeLog(): string;
  /** Stops the client, the bridge, the file server and LiveKit, in that order. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link startBenchRig}. */
export interface BenchRigOptions {
  /** Where the bridge writes its CPU profile and counters (--profile); none without. */
  readonly profileDir?: string;
}

/**
 * Runs a command's `body` on a started rig and answers its exit code: 1 when starting or
 * the body fails (said as "`command` failed: …" with the bridge's log tail). Closes the
 * rig, then disposes `run`.
 */
export async function withBenchRig(
  command: string,
  say: (line: string) => void,
  run: RunSignal,
  options: BenchRigOptions,
  body: (rig: BenchRig) => Promise<number>,
): Promise<number> {
  let rig: BenchRig | undefined;
  try {
    rig = await startBenchRig(say, options);
    return await body(rig);
  } catch (error) {
    say(`${command} failed: ${error instanceof Error ? error.message : String(error)}`);
    if (rig) say(`bridge log tail:\n${rig.bridgeLog()}`);
    return 1;
  } finally {
    await rig?.close();
    run.dispose();
  }
}

/** Starts the rig; on any failure, tears down what had started and rethrows. */
export async function startBenchRig(
  say: (line: string) => void,
  options: BenchRigOptions = {},
): Promise<BenchRig> {
  const cleanups: (() => Promise<unknown>)[] = [];
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    })();
    return closed;
  };
  try {
    const livekit = await startLiveKit({ isolate: "auto" });
    cleanups.push(() => livekit.close());
    say(`LiveKit at ${livekit.url}${livekit.namespace ? ` (namespace ${livekit.namespace})` : ""}`);

    const mp3 = readFileSync(MP3);
    const files = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "audio/mpeg", "content-length": mp3.length });
      res.end(mp3);
    });
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => {
      files.closeAllConnections();
      return new Promise((resolve) => files.close(resolve));
    });
    const mp3Url = `http://127.0.0.1:${(files.address() as net.AddressInfo).port}/loop.mp3`;

    const snapshots = mkdtempSync(join(tmpdir(), "mentra-bench-heap-"));
    cleanups.push(async () => rmSync(snapshots, { recursive: true, force: true }));
    const port = await freePort();
    // setpriv --pdeathsig: the bridge dies with the bench even if the bench is SIGKILLed.
    const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => existsSync(path));
    // --profile: a V8 CPU profile of the bridge's JS thread, written when it exits, and
    // the GC and FFI counters of bridge-preload.ts.
    if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
    const countersFile = options.profileDir ? join(options.profileDir, "counters.json") : undefined;
    const node = [
      process.execPath,
      ...BRIDGE_NODE_FLAGS,
      "--heapsnapshot-signal=SIGUSR2",
      `--diagnostic-dir=${snapshots}`,
      ...(options.profileDir
        ? ["--cpu-prof", "--cpu-prof-dir", options.profileDir, "--import", PRELOAD]
        : []),
      BRIDGE_MAIN,
    ];
    const [command, args] = setpriv
      ? [setpriv, ["--pdeathsig", "SIGKILL", "--", ...node]]
      : [process.execPath, node.slice(1)];
    const bridge = spawn(command, args, {
      env: {
        ...process.env,
        NODE_ENV: "production",
        ...localBridgeEnv(livekit, port),
        ...(countersFile ? { BENCH_PROBE_FILE: countersFile } : {}),
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    bridge.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4_000);
    });
    const exited = new Promise((resolve) => bridge.once("exit", resolve));
    cleanups.push(async () => {
      if (bridge.exitCode === null && bridge.signalCode === null) bridge.kill("SIGTERM");
      const force = setTimeout(() => bridge.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(force);
    });
    const client = createBridgeClient({ baseUrl: `http://127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    for (let attempt = 0; ; attempt++) {
      const up = await client.health({ timeoutMs: 1_000 }).then(
        (h) => h.status === "serving",
        () => false,
      );
      if (up) break;
      if (bridge.exitCode !== null || attempt > 300) {
        throw new Error(`the bridge did not come up within 15 s:\n${log}`);
      }
      await sleep(50);
    }
    const pid = bridge.pid ?? 0;
    say(`bridge pid ${pid} on :${port}`);
    return {
      creds: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      client,
      connect: () => createBridgeClient({ baseUrl: `http://127.0.0.1:${port}` }),
      bridgePid: pid,
      probe: createBridgeProbe(pid, client),
      async metrics() {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
          signal: AbortSignal.timeout(5_000),
        });
        if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
        return response.text();
      },
      mp3Url,
      counters: () => (countersFile ? readCounters(countersFile) : undefined),
      bridgeLog: () => log,
      async collectGarbage() {
        const before = new Set(readdirSync(snapshots));
        bridge.kill("SIGUSR2");
        let lastSize = -1;
        for (let i = 0; i < 240; i++) {
          await sleep(250);
          const file = readdirSync(snapshots).find((name) => !before.has(name));
          if (file === undefined) continue;
          const size = statSync(join(snapshots, file)).size;
          // Written once the size holds still and the bridge answers again.
          if (
            size > 0 &&
            size === lastSize &&
            (await client.health().then(
              () => true,
              () => false,
            ))
          ) {
            rmSync(join(snapshots, file), { force: true });
            return;
          }
          lastSize = size;
        }
        throw new Error("the bridge wrote no heap snapshot within 60 s");
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
