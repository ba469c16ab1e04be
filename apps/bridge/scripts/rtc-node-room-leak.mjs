#!/usr/bin/env node
// Measures the native memory rtc-node keeps of every room it leaves, without the bridge:
// one process connects a Room to a local livekit-server (in its own network namespace),
// optionally publishes an audio track and captures 200 ms, leaves, and repeats; RSS is
// read after a forced GC every 50 cycles. Usage (as root, from the repo):
//   node --expose-gc apps/bridge/scripts/rtc-node-room-leak.mjs [connect|publish] [cycles]
// Re-run it on every rtc-node upgrade: RECYCLE_RSS_MB exists because of what it prints.
import { readFileSync } from "node:fs";
import {
  AudioFrame,
  AudioSource,
  LocalAudioTrack,
  Room,
  TrackPublishOptions,
  TrackSource,
} from "@livekit/rtc-node";
import { quietNativeLogs } from "@mentra/livekit-native-logs";
import { startLiveKit } from "@mentra/livekit-rig";
import { mintToken } from "@mentra/test-kit";

const variant = process.argv[2] ?? "connect";
const cycles = Math.min(Number(process.argv[3] ?? 200), 2_000);
const rssMb = () =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]) / 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const settle = async () => {
  globalThis.gc?.();
  await sleep(500);
};

quietNativeLogs();
const rig = await startLiveKit({ isolate: "on" });
const creds = { url: rig.url, apiKey: rig.apiKey, apiSecret: rig.apiSecret };
async function cycle(name) {
  const room = new Room();
  const token = await mintToken(creds, "leak", name);
  await room.connect(rig.url, token, { autoSubscribe: false, dynacast: false });
  if (variant === "publish") {
    const source = new AudioSource(24_000, 1, 100);
    const track = LocalAudioTrack.createAudioTrack("tts", source);
    const options = new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE });
    const publication = await room.localParticipant?.publishTrack(track, options);
    for (let i = 0; i < 10; i++) {
      await source.captureFrame(new AudioFrame(new Int16Array(480), 24_000, 1, 480));
    }
    if (publication?.sid) await room.localParticipant?.unpublishTrack(publication.sid);
    await track.close();
    await source.close();
  }
  await room.disconnect();
}
try {
  for (let i = 0; i < 10; i++) await cycle(`warm-${i}`);
  await settle();
  const base = rssMb();
  console.log(`${variant}: RSS ${base.toFixed(1)} MB after 10 warm-up cycles`);
  for (let i = 1; i <= cycles; i++) {
    await cycle(`room-${i}`);
    if (i % 50 === 0 || i === cycles) {
      await settle();
      const grown = rssMb() - base;
      console.log(
        `${variant}: ${i} cycles, RSS +${grown.toFixed(1)} MB (${((grown * 1024) / i).toFixed(0)} kB per room)`,
      );
    }
  }
} finally {
  await rig.close();
}
process.exit(0);
