import { concatUint8 } from "@mentra/pcm";
import { audibleMs, dominantFrequency } from "@mentra/test-kit";
import { describe, expect, it } from "vitest";
import { PlaybackError } from "../../src/playback/errors.js";
import { parseFrameHeader } from "../../src/playback/mp3-frames.js";
import { MAX_HEADER_BYTES, openDecoder } from "../../src/playback/open-decoder.js";
import { readFixture } from "../support/audio-server.js";
import { encodeWav, toneFloats } from "../support/wav.js";
import { decodeAll, downloadOf } from "./decode.js";

// Issue 17, finding 6 and the MP3 ending in junk: headers that claim huge sizes cost
// time linear in what arrives and hold a bounded head; audio ending in junk is damaged.

/** An ID3v2.4 tag header claiming `size` bytes of frames (synchsafe), then `filled` zeros. */
function id3Tag(size: number, filled = 0): Uint8Array {
  const tag = new Uint8Array(10 + filled);
  tag.set([0x49, 0x44, 0x33, 4, 0, 0]);
  tag.set([(size >> 21) & 0x7f, (size >> 14) & 0x7f, (size >> 7) & 0x7f, size & 0x7f], 6);
  return tag;
}

/** The parts joined, in order (a fresh array: every call here joins two or more). */
function concat(...parts: Uint8Array[]): Uint8Array {
  return concatUint8(parts);
}

/** A WAV with a chunk `id` of `size` claimed bytes (`filled` of them present) before fmt. */
function wavWithChunk(wav: Uint8Array, id: string, size: number, filled: number): Uint8Array {
  const chunk = new Uint8Array(8 + filled);
  chunk.set([...id].map((c) => c.charCodeAt(0)));
  new DataView(chunk.buffer).setUint32(4, size, true);
  return concat(wav.subarray(0, 12), chunk, wav.subarray(12));
}

/** Pseudo-random bytes, the same every run. */
function junk(length: number, seed = 1): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length }, () => {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    return x >>> 24;
  });
}

async function openFails(body: Uint8Array, chunkBytes = 65_536) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  let failure: PlaybackError | undefined;
  try {
    (await openDecoder(downloadOf(body, chunkBytes))).decoder.free();
  } catch (error) {
    if (!(error instanceof PlaybackError)) throw error;
    failure = error;
  }
  const used = process.cpuUsage(cpu);
  return {
    failure,
    cpuMs: (used.user + used.system) / 1000,
    wallMs: performance.now() - started,
  };
}

const tone = toneFloats({ frequencyHz: 440, sampleRate: 16_000, channels: 1, durationMs: 500 });
const wav = encodeWav(tone, { sampleRate: 16_000, channels: 1, encoding: "s16" });

describe("hostile headers", () => {
  it("a WAV whose LIST chunk claims 0xFFFFFFF0 bytes, 48 MB of it sent: linear, nothing held", async () => {
    const body = wavWithChunk(wav, "LIST", 0xffff_fff0, 48 * 1024 * 1024);
    const { failure, cpuMs } = await openFails(body);
    console.log(
      `[hostile-headers] LIST 0xFFFFFFF0, 48 MB: ${failure?.code} after ${Math.round(cpuMs)} ms CPU`,
    );
    expect(failure?.code).toBe("decode_error");
    expect(failure?.message).toBe("decode error: the WAV header is cut off");
    // Quadratic copying took seconds per 10 MB; linear skipping is a few ms per MB.
    expect(cpuMs).toBeLessThan(1_500);
  });

  it("an MP3 whose ID3 tag claims 256 MB, 48 MB of it sent: linear, nothing held", async () => {
    const body = id3Tag(256 * 1024 * 1024 - 10, 48 * 1024 * 1024);
    const { failure, cpuMs } = await openFails(body);
    console.log(
      `[hostile-headers] ID3 256 MB, 48 MB: ${failure?.code} after ${Math.round(cpuMs)} ms CPU`,
    );
    expect(failure?.code).toBe("decode_error");
    expect(failure?.message).toBe("decode error: no MPEG audio frame after the ID3 tag");
    expect(cpuMs).toBeLessThan(1_500);
  });

  it("holds no more than MAX_HEADER_BYTES looking for the first frame after the tags", async () => {
    const body = concat(
      id3Tag(100, 100),
      new Uint8Array(4 * MAX_HEADER_BYTES),
      readFixture("mp3-44k-mono-cbr-noxing-550.mp3"),
    );
    const { failure } = await openFails(body, 1_000);
    expect(failure?.code).toBe("decode_error");
    expect(failure?.message).toBe(
      `decode error: the start of the MP3 audio is not complete within ${MAX_HEADER_BYTES} bytes`,
    );
  });

  it("still plays an MP3 behind a 2 MB ID3 tag (cover art), its duration estimated without it", async () => {
    const mp3 = readFixture("mp3-44k-mono-cbr-noxing-550.mp3");
    const body = concat(id3Tag(2 * 1024 * 1024 - 10, 2 * 1024 * 1024 - 10), mp3);
    const decoded = await decodeAll(body, 4_096, body.length);
    expect(decoded.error).toBeUndefined();
    expect(Math.abs(audibleMs(decoded.mono, 44_100) - 800)).toBeLessThanOrEqual(60);
    expect(Math.abs(dominantFrequency(decoded.mono, 44_100) - 550)).toBeLessThan(3);
    expect(decoded.format.durationSource).toBe("estimate");
    expect(Math.abs(decoded.format.durationMs - decoded.durationMs)).toBeLessThanOrEqual(60);
  });

  it("still plays a WAV with a 1 MB LIST chunk before its fmt chunk, bit for bit", async () => {
    const body = wavWithChunk(wav, "LIST", 1024 * 1024, 1024 * 1024);
    const decoded = await decodeAll(body, 3_000);
    const plain = await decodeAll(wav, 3_000);
    expect(decoded.error).toBeUndefined();
    expect(decoded.mono).toEqual(plain.mono);
    expect(decoded.mono.length).toBe(8_000);
  });
});

describe("an MP3 that ends in junk", () => {
  const mp3 = readFixture("mp3-44k-mono-cbr-noxing-550.mp3");
  const first = parseFrameHeader(mp3, 0);
  if (first === undefined) throw new Error("the fixture starts with a frame");
  const second = parseFrameHeader(mp3, first.length);
  const twoFrames = mp3.subarray(0, first.length + (second?.length ?? 0));

  it.each([
    ["zeros", new Uint8Array(65_536)],
    ["pseudo-random bytes", junk(65_536)],
  ])("two valid frames then 64 kB of %s end in decode_error", async (_name, tail) => {
    const decoded = await decodeAll(concat(twoFrames, tail), 4_096);
    expect(decoded.error?.code).toBe("decode_error");
    expect(decoded.error?.message).toMatch(/not MPEG audio/);
  });

  it("an ID3v1 tag (128 bytes) after the last frame is no damage", async () => {
    const tag = new Uint8Array(128);
    tag.set([0x54, 0x41, 0x47]);
    const decoded = await decodeAll(concat(mp3, tag), 4_096);
    expect(decoded.error).toBeUndefined();
  });
});
