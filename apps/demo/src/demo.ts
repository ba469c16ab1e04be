import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as http from "node:http";
import type * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AudioFrame, createBridgeClient } from "@mentra/bridge-client";
import { startLiveKit } from "@mentra/livekit-rig";
import { sleep } from "@mentra/pcm";
import {
  chime,
  dominantFrequency,
  freePort,
  joinParticipant,
  localBridgeEnv,
  sineTone,
  speechLike,
  trimSilence,
} from "@mentra/test-kit";
import { encodeWav } from "./wav.js";

const BRIDGE_MAIN = fileURLToPath(new URL("../../bridge/dist/main.js", import.meta.url));

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Short durations, for the test that proves the demo runs. */
  readonly quick: boolean;
  /** Where to save what the cloud heard; default a file in the temp directory. */
  readonly out?: string;
  readonly write: (text: string) => void;
  /** Redraw meters in place (a terminal) rather than printing lines. */
  readonly tty: boolean;
}

function bar(fraction: number, width = 30): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

function dbfs(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / Math.max(1, samples.length)) / 32_768;
  return rms > 0 ? 20 * Math.log10(rms) : -99;
}

/** Runs the demo; resolves with the process exit code. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const say = (text: string) => options.write(`${text}\n`);
  const speakMs = options.quick ? 1_500 : 6_000;
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    say("▶ starting livekit-server (dev mode) …");
    const livekit = await startLiveKit({ isolate: "auto" });
    cleanups.push(() => livekit.close());
    const creds = { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret };
    say(
      `  LiveKit at ${livekit.url}${livekit.namespace ? ` (network namespace ${livekit.namespace})` : ""}`,
    );

    // An app sound the cloud will ask the bridge to play, served on loopback.
    const chimeWav = encodeWav(chime(44_100, options.quick ? 600 : 1_600), 44_100);
    const files = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "audio/wav", "content-length": chimeWav.length });
      res.end(chimeWav);
    });
    await new Promise<void>((resolve) => files.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => files.close(resolve)));
    const chimeUrl = `http://127.0.0.1:${(files.address() as net.AddressInfo).port}/chime.wav`;

    const port = Number(process.env.DEMO_BRIDGE_PORT ?? (await freePort()));
    say(`▶ starting the bridge on :${port} …`);
    const bridge = spawn(process.execPath, [BRIDGE_MAIN], {
      env: {
        ...process.env,
        ...localBridgeEnv(livekit, port),
      },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const bridgeExited = new Promise((resolve) => bridge.once("exit", resolve));
    cleanups.push(async () => {
      bridge.kill("SIGTERM");
      await bridgeExited;
    });
    const client = createBridgeClient({ baseUrl: `http://127.0.0.1:${port}` });
    for (let i = 0; ; i++) {
      const up = await client.health().then(
        (h) => h.status === "serving",
        () => false,
      );
      if (up) break;
      if (i > 200) throw new Error("the bridge did not come up within 10 s");
      await sleep(50);
    }

    const room = `demo-${Date.now().toString(36)}`;
    say(`▶ glasses join room ${room}; the cloud app joins through the bridge`);
    const glasses = await joinParticipant(creds, room, "glasses");
    cleanups.push(() => glasses.close());
    const session = await client.join({
      userId: "demo-user",
      roomName: room,
      targetIdentity: "glasses",
    });
    cleanups.push(() => session.leave("demo over"));
    session.on("reconnecting", ({ error }) => say(`  (reconnecting: ${error.message})`));

    // The cloud app: a live level meter of what it hears, kept for the WAV file.
    const heard: AudioFrame[] = [];
    let meterAt = 0;
    const listening = (async () => {
      for await (const frame of session.audio) {
        heard.push(frame);
        const now = Date.now();
        if (now - meterAt < (options.tty ? 50 : 500)) continue;
        meterAt = now;
        const level = dbfs(frame.samples);
        const line = `  cloud hears glasses ${bar((level + 60) / 60)} ${level.toFixed(0).padStart(4)} dBFS`;
        options.write(options.tty ? `\r${line}` : `${line}\n`);
      }
    })();

    say(
      `▶ the glasses speak for ${speakMs / 1000} s (data packets as the phone sends them: a sequence byte, then 20 ms of PCM)`,
    );
    const speech = speechLike(16_000, speakMs);
    await glasses.sendPcm(speech);
    await sleep(300);
    if (options.tty) options.write("\n");

    say("▶ the cloud replies on the TTS track (track 2); the glasses listen");
    const recorder = glasses.recordAudio("cloud-agent:demo-user", 16_000);
    const reply = sineTone({
      frequencyHz: 523.25,
      sampleRate: 16_000,
      durationMs: options.quick ? 500 : 1_200,
    });
    for (let offset = 0; offset < reply.length; offset += 320) {
      session.send(reply.subarray(offset, offset + 320), { trackId: 2 });
    }
    await recorder.subscribed;
    await sleep(reply.length / 16 + 400);
    const replyHeard = await recorder.stop();
    const replyPitch = dominantFrequency(trimSilence(replyHeard, 16_000), 16_000);
    say(`  glasses heard the reply at ${replyPitch.toFixed(1)} Hz (sent 523.3 Hz)`);

    say(`▶ the cloud plays ${chimeUrl} into the room (track 1)`);
    const playback = session.play(chimeUrl, { trackId: 1 });
    let duration = 0;
    for await (const event of playback.events) {
      if (event.durationMs > 0) duration = event.durationMs;
      const line = `  ${event.type.padEnd(9)} ${bar(duration > 0 ? event.positionMs / duration : 0)} ${(event.positionMs / 1000).toFixed(1)}/${(duration / 1000).toFixed(1)} s`;
      options.write(
        options.tty && event.type === "progress"
          ? `\r${line}`
          : `${options.tty ? "\r" : ""}${line}\n`,
      );
    }
    const outcome = await playback.done.catch((error: Error) => ({
      type: `error: ${error.message}`,
    }));
    say(`  playback ${outcome.type}`);

    await session.leave("demo over");
    await listening;
    const samples = new Int16Array(heard.reduce((n, f) => n + f.samples.length, 0));
    let offset = 0;
    for (const frame of heard) {
      samples.set(frame.samples, offset);
      offset += frame.samples.length;
    }
    const out = options.out ?? join(tmpdir(), `mentra-demo-heard-${Date.now()}.wav`);
    writeFileSync(out, encodeWav(samples, 16_000));
    const seconds = samples.length / 16_000;
    say(
      `▶ the cloud heard ${seconds.toFixed(2)} s of the glasses (sent ${(speech.length / 16_000).toFixed(2)} s)`,
    );
    say(`  saved to ${out}`);
    return 0;
  } catch (error) {
    say(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
