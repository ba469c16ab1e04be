import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import type * as grpc from "@grpc/grpc-js";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import {
  heardTone,
  joinParticipant,
  leBytes,
  sineTone,
  type TestParticipant,
  waitFor,
} from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AudioServer, startAudioServer } from "../support/audio-server.js";
import { type AnyClient, deployedClient, type Loose, unary } from "../support/deployed-client.js";
import { REPO_ROOT } from "../support/tools.js";
import { uniqueRoom } from "./harness.js";
import { recordTrack } from "./track-recorder.js";

// The livekit-bridge executable (npm run build:binary) as the cloud's container runs it in
// place of the Go binary: `./livekit-bridge &` from a folder holding nothing else, no
// node_modules anywhere up the tree, no node on PATH, only the deployed runtime's settings.
// It serves on the Unix socket, joins a real room and carries audio both ways, checked by
// content, with the deployed cloud's client (grpc-js, proto-loader keepCase) on the socket.

const gate = await e2eGate();
const EXECUTABLE = path.join(REPO_ROOT, "apps/bridge/dist-exe/livekit-bridge");
// The deployed runtime sets LIVEKIT_GRPC_SOCKET (CONTRACT.md) and nothing about TCP; a
// bridge whose settings (its --help) do not name it yet is run with BRIDGE_UNIX_SOCKET,
// which also listens on TCP, kept on loopback and off 9090.
const DEPLOYED_SOCKET_ENV = "LIVEKIT_GRPC_SOCKET";

/** The socket settings to start the executable with, and which name they use. */
async function socketSettings(socket: string): Promise<Record<string, string>> {
  const { stdout } = await promisify(execFile)(EXECUTABLE, ["--help"], { timeout: 10_000 });
  if (stdout.includes(DEPLOYED_SOCKET_ENV)) return { [DEPLOYED_SOCKET_ENV]: socket };
  return { BRIDGE_UNIX_SOCKET: socket, BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0" };
}
// The deployed start.sh waits this long for the socket file before giving up.
const START_SH_SOCKET_WAIT_MS = 10_000;
// 1 s of tone each way. A WebRTC receiver starved of CPU conceals late packets by
// stretching the tone: on this shared 2-core machine up to 1080 ms was heard at load
// average 11 and 1120 ms at 30. A doubled chunk stream would be near 2000 ms.
const MAX_HEARD_MS = 1_250;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** PATH without any folder holding a `node` (or `nodejs`, `bun`) executable. */
function pathWithoutNode(): string {
  return (process.env.PATH ?? "")
    .split(":")
    .filter(
      (dir) =>
        dir !== "" &&
        !["node", "nodejs", "bun"].some((name) => fs.existsSync(path.join(dir, name))),
    )
    .join(":");
}

describe.skipIf(gate === "skip")("the livekit-bridge executable (no node, no node_modules)", () => {
  let livekit: LiveKitRig;
  let audioServer: AudioServer;
  let dir: string;
  let child: ChildProcess | undefined;
  let client: AnyClient | undefined;
  let device: TestParticipant | undefined;
  let stderr = "";

  beforeAll(async () => {
    // Builds it when missing or stale (a stamp check, 1-4 s when up to date); dist/ must be
    // built, as npm test's build step does.
    const started = performance.now();
    await promisify(execFile)("bash", ["scripts/build-binary.sh", "--no-workspace-build"], {
      cwd: REPO_ROOT,
      timeout: 240_000,
    });
    console.log(`[executable] build:binary took ${Math.round(performance.now() - started)} ms`);
    livekit = await startLiveKit({ isolate: "on" });
    audioServer = await startAudioServer();
  }, 300_000);

  afterEach(async () => {
    client?.close();
    client = undefined;
    await device?.close();
    device = undefined;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    child = undefined;
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });

  afterAll(async () => {
    await audioServer?.close();
    await livekit?.close();
  });

  it("serves on the socket, joins a real room, carries a tone each way and plays an MP3", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlk-exe-"));
    const app = path.join(dir, "app");
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(app);
    fs.mkdirSync(tmp);
    fs.copyFileSync(EXECUTABLE, path.join(app, "livekit-bridge"));
    fs.chmodSync(path.join(app, "livekit-bridge"), 0o755);
    // Nothing to fall back on: no node_modules from the folder up, no node on PATH.
    for (let up = app; ; up = path.dirname(up)) {
      expect(fs.existsSync(path.join(up, "node_modules")), up).toBe(false);
      if (up === path.dirname(up)) break;
    }
    expect(fs.readdirSync(app)).toEqual(["livekit-bridge"]);
    const PATH = pathWithoutNode();
    for (const folder of PATH.split(":"))
      expect(fs.existsSync(path.join(folder, "node"))).toBe(false);

    // What a bridge SIGKILLed while writing the addon leaves (its pid is gone), and the
    // folder of one that is alive (this process) and may be writing it right now.
    const gone = spawn("true");
    await once(gone, "exit");
    const leftover = `livekit-bridge-${gone.pid}-Ab12Cd`;
    const live = `livekit-bridge-${process.pid}-Ef34Gh`;
    for (const name of [leftover, live]) {
      fs.mkdirSync(path.join(tmp, name));
      fs.writeFileSync(path.join(tmp, name, "rtc-node.node"), Buffer.alloc(1024));
    }
    const socket = path.join(dir, "livekit-bridge.sock");
    const socketEnv = await socketSettings(socket);
    console.log(`[executable] socket setting: ${Object.keys(socketEnv).join(", ")}`);
    const env = {
      PATH,
      HOME: dir,
      TMPDIR: tmp,
      ...socketEnv,
      LIVEKIT_URL: livekit.url,
      LIVEKIT_API_KEY: livekit.apiKey,
      LIVEKIT_API_SECRET: livekit.apiSecret,
      LOG_LEVEL: "info",
      // The test's own audio server, for PlayAudio.
      PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
    };
    const started = performance.now();
    const proc = spawn("./livekit-bridge", [], {
      cwd: app,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.stdout.resume();

    while (!fs.existsSync(socket)) {
      const waited = performance.now() - started;
      if (proc.exitCode !== null || waited > START_SH_SOCKET_WAIT_MS) {
        throw new Error(
          `no socket after ${Math.round(waited)} ms (exit ${proc.exitCode}):\n${stderr}`,
        );
      }
      await sleep(2);
    }
    const socketMs = performance.now() - started;
    // The deployed cloud's client: proto-loader as the cloud sets it up.
    client = deployedClient(`unix:${socket}`);
    const bridge = client;
    let health: Loose | undefined;
    while (health?.status !== "SERVING") {
      health = await unary<Loose>(bridge, "HealthCheck", {}, 1_000).catch(() => undefined);
      if (performance.now() - started > START_SH_SOCKET_WAIT_MS) throw new Error(stderr);
    }
    const servingMs = performance.now() - started;
    console.log(
      `[executable] start to socket file ${Math.round(socketMs)} ms, ` +
        `to HealthCheck SERVING over it ${Math.round(servingMs)} ms`,
    );
    expect(servingMs).toBeLessThan(START_SH_SOCKET_WAIT_MS);
    // Its own Node 24, not the machine's Node.
    const tools = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "tools.json"), "utf8"));
    expect(health.metadata.node_version).toBe(`v${tools.node24}`);
    // With the bridge's Node flags, from its SEA config's execArgv.
    const flags = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, "apps/bridge/node-flags.json"), "utf8"),
    ) as string[];
    expect(health.metadata.node_flags).toBe(flags.join(" "));

    const userId = "u-exe";
    const room = uniqueRoom("exe");
    const join = await unary<Loose>(bridge, "JoinRoom", {
      user_id: userId,
      room_name: room,
      target_identity: "glasses",
    });
    expect(join).toMatchObject({ success: true, error: "" });
    const bridgeIdentity = join.metadata.identity as string;
    // rtc-node's addon (loaded by now, a room is joined) went through TMPDIR and is gone,
    // and so is the dead bridge's leftover; the live one's folder is left alone.
    expect(fs.readdirSync(tmp)).toEqual([live]);
    // The version, read from package.json by the sources, inlined by the build.
    const manifest = JSON.parse(
      fs.readFileSync(path.join(REPO_ROOT, "apps/bridge/package.json"), "utf8"),
    );
    expect(await unary(bridge, "GetStatus", { user_id: userId })).toMatchObject({
      connected: true,
      server_version: manifest.version,
    });
    device = await joinParticipant(
      { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret },
      room,
      "glasses",
    );
    const glasses = device;

    const stream = bridge.StreamAudio() as grpc.ClientDuplexStream<Loose, Loose>;
    const fromRoom: Buffer[] = [];
    stream.on("data", (chunk) => fromRoom.push(chunk.pcm_data as Buffer));
    stream.on("error", () => {});
    stream.write({ user_id: userId, sample_rate: 16_000, channels: 1, pcm_data: Buffer.alloc(0) });

    // cloud → room: 1 s of 1 kHz on the speaker track, as 20 ms chunks.
    const speaker = recordTrack(glasses, bridgeIdentity, "speaker", 48_000);
    const toRoom = sineTone({ frequencyHz: 1_000, sampleRate: 16_000, durationMs: 1_000 });
    for (let offset = 0; offset < toRoom.length; offset += 320) {
      stream.write({
        user_id: userId,
        pcm_data: Buffer.from(leBytes(toRoom.subarray(offset, offset + 320))),
        sample_rate: 16_000,
        channels: 1,
        track_id: 0,
      });
    }
    // room → cloud: 1 s of 440 Hz from the glasses' microphone track.
    await glasses.publishPcm(
      sineTone({ frequencyHz: 440, sampleRate: 48_000, durationMs: 1_000 }),
      {
        sampleRate: 48_000,
      },
    );
    await speaker.subscribed;
    await sleep(500);
    const heard = await speaker.stop();

    const { frequencyHz: heardHz, audibleMs: heardMs } = heardTone(heard, 48_000);
    expect(Math.abs(heardHz - 1_000)).toBeLessThan(3);
    console.log(`[executable] cloud → room: ${heardMs} ms of 1 kHz heard by the glasses`);
    expect(heardMs).toBeGreaterThanOrEqual(800);
    expect(heardMs).toBeLessThanOrEqual(MAX_HEARD_MS);

    const fromRoomSamples = () => fromRoom.reduce((sum, pcm) => sum + pcm.byteLength / 2, 0);
    await waitFor(() => fromRoomSamples() >= 15_000, { timeoutMs: 5_000, intervalMs: 20 });
    await sleep(200);
    const bytes = Buffer.concat(fromRoom);
    const samples = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    const { frequencyHz: fromGlassesHz, audibleMs: fromGlassesMs } = heardTone(samples, 16_000);
    expect(Math.abs(fromGlassesHz - 440)).toBeLessThan(3);
    console.log(`[executable] room → cloud: ${fromGlassesMs} ms of 440 Hz reached the cloud`);
    expect(fromGlassesMs).toBeGreaterThanOrEqual(800);
    expect(fromGlassesMs).toBeLessThanOrEqual(MAX_HEARD_MS);

    // PlayAudio: an MP3 fetched and decoded (mpg123's WebAssembly, bundled) onto the TTS track.
    const tts = recordTrack(glasses, bridgeIdentity, "tts", 48_000);
    const events: Loose[] = [];
    const play = bridge.PlayAudio({
      user_id: userId,
      request_id: "exe-mp3",
      audio_url: audioServer.fixture("mp3-22k-mono-cbr-440.mp3"),
      track_id: 2,
    }) as grpc.ClientReadableStream<Loose>;
    play.on("data", (event: Loose) => events.push(event));
    await new Promise<void>((resolve, reject) => {
      play.on("end", resolve);
      play.on("error", reject);
    });
    await tts.subscribed;
    await sleep(300);
    const played = await tts.stop();
    const types = events.map((event) => event.type as string);
    expect(types[0]).toBe("STARTED");
    expect(types.at(-1)).toBe("COMPLETED");
    expect(new Set(types.slice(1, -1))).toEqual(new Set(types.length > 2 ? ["PROGRESS"] : []));
    expect(events[0]?.metadata.codec).toBe("mp3");
    expect(Math.abs(Number(events.at(-1)?.position_ms) - 800)).toBeLessThanOrEqual(60);
    const playedTone = heardTone(played, 48_000);
    expect(Math.abs(playedTone.frequencyHz - 440)).toBeLessThan(3);
    // The fixture is 800 ms long; the track is published at the first frame.
    expect(playedTone.audibleMs).toBeGreaterThanOrEqual(600);
    expect(playedTone.audibleMs).toBeLessThanOrEqual(MAX_HEARD_MS);

    stream.end();
    expect(await unary(bridge, "LeaveRoom", { user_id: userId })).toMatchObject({ success: true });
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
    expect(fs.existsSync(socket)).toBe(false);
  }, 60_000);

  it("says what to set when LIVEKIT_URL is empty: it embeds no livekit-server", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlk-exe-"));
    const result = await promisify(execFile)(EXECUTABLE, [], {
      cwd: dir,
      env: { PATH: pathWithoutNode(), HOME: dir, BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0" },
      timeout: 10_000,
    }).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "the livekit-bridge executable embeds no LiveKit: set LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
    );
  });

  it("says to change TMPDIR when the addon cannot load from it (noexec)", async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "mlk-exe-"));
    const noexec = path.join(dir, "noexec");
    fs.mkdirSync(noexec);
    const run = promisify(execFile);
    await run("mount", ["-t", "tmpfs", "-o", "noexec,size=64m", "tmpfs", noexec]);
    try {
      const env = {
        PATH: pathWithoutNode(),
        HOME: dir,
        TMPDIR: noexec,
        ...(await socketSettings(path.join(dir, "bridge.sock"))),
        LIVEKIT_URL: "ws://127.0.0.1:1",
      };
      const proc = spawn(EXECUTABLE, [], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
      child = proc;
      let output = "";
      proc.stderr.on("data", (chunk: Buffer) => {
        output += chunk.toString();
      });
      // The addon loads at start (or, where rtc-node loads after the bridge listens, just
      // after): either way the error is out within start.sh's wait.
      await waitFor(() => output.includes("set TMPDIR to a folder that allows executable"), {
        timeoutMs: START_SH_SOCKET_WAIT_MS,
        intervalMs: 20,
        description: "the addon's load error",
      });
      expect(output).toContain(`could not load rtc-node's native addon from ${noexec}/`);
      // Its private folder is gone even so.
      expect(fs.readdirSync(noexec)).toEqual([]);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill("SIGKILL");
        await once(proc, "exit");
      }
    } finally {
      await run("umount", [noexec]);
    }
  });
});
