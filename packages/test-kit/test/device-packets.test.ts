import { describe, expect, it } from "vitest";
import { createDeviceSender } from "../src/device-packets.js";

/** A sender that records what it publishes, unpaced. */
function recording(options: Parameters<typeof createDeviceSender>[1] = {}) {
  const published: { bytes: Uint8Array; reliable: boolean }[] = [];
  const sender = createDeviceSender(
    async (bytes, { reliable }) => {
      published.push({ bytes: bytes.slice(), reliable });
    },
    { paced: false, ...options },
  );
  return { sender, published };
}

/** n 20 ms packets of samples whose value is their packet number. */
const numbered = (n: number) => Int16Array.from({ length: n * 320 }, (_, i) => Math.floor(i / 320));

describe("device sender", () => {
  it("sends the phone's format by default: a sequence byte from 1, 20 ms of LE PCM, lossy", async () => {
    const { sender, published } = recording();
    await sender.send(numbered(3));
    expect(published.map((p) => [p.bytes.byteLength, p.bytes[0], p.bytes[1], p.reliable])).toEqual([
      [641, 1, 0, false],
      [641, 2, 1, false],
      [641, 3, 2, false],
    ]);
  });

  it("wraps the sequence past 255 across calls", async () => {
    const { sender, published } = recording({ firstSequence: 254 });
    await sender.send(numbered(2));
    await sender.send(numbered(2));
    expect(published.map((p) => p.bytes[0])).toEqual([254, 255, 0, 1]);
  });

  it("raw: even-length PCM only, on the reliable channel", async () => {
    const { sender, published } = recording({ format: "raw" });
    await sender.send(numbered(2));
    expect(published.map((p) => [p.bytes.byteLength, p.reliable])).toEqual([
      [640, true],
      [640, true],
    ]);
  });

  it("skips (using up the sequence), duplicates and swaps as asked", async () => {
    const { sender, published } = recording({
      faults: {
        skip: (i) => i === 1,
        duplicate: (i) => i === 2,
        swapWithNext: (i) => i === 3,
      },
    });
    await sender.send(numbered(6));
    expect(published.map((p) => p.bytes[0])).toEqual([1, 3, 3, 5, 4, 6]);
    expect(sender.packets.map((p) => p.fate)).toEqual([
      "sent",
      "skipped",
      "sent",
      "sent",
      "sent",
      "sent",
    ]);
  });

  it("paces one call's packets in real time, with no wait after the last", async () => {
    const published: number[] = [];
    const sender = createDeviceSender(async () => {
      published.push(performance.now());
    });
    const started = performance.now();
    await sender.send(numbered(5));
    const took = performance.now() - started;
    expect(published).toHaveLength(5);
    expect(took).toBeGreaterThanOrEqual(78);
    expect(took).toBeLessThan(300);
  });
});
