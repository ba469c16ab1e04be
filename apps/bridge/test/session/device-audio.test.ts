import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeviceAudio } from "../../src/session/device-audio.js";

/** A phone packet with sequence byte `sequence` and 320 samples of bytes `fill`. */
function phone(sequence: number, fill: number): Uint8Array {
  const packet = new Uint8Array(641).fill(fill);
  packet[0] = sequence % 256;
  return packet;
}

function collect() {
  const out: { bytes: Uint8Array; at: number }[] = [];
  const audio = createDeviceAudio({ onPcm: (bytes, at) => out.push({ bytes, at }) });
  /** What came out, one entry per 640 bytes: the fill byte, 0 for silence. */
  const fills = () =>
    out.flatMap(({ bytes }) =>
      Array.from({ length: bytes.byteLength / 640 }, (_, k) => bytes[k * 640] ?? -1),
    );
  return { audio, out, fills };
}

describe("device audio (the session's glue)", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("releases a lone raw packet once the 500 ms hold has passed, and frees its timer", () => {
    const { audio, out } = collect();
    audio.push(new Uint8Array(640).fill(7));
    expect(out).toHaveLength(0);
    expect(audio.hasTimer).toBe(true);
    vi.advanceTimersByTime(499);
    expect(out).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(out.map((o) => o.bytes.byteLength)).toEqual([640]);
    expect(audio.figures()).toMatchObject({ format: "raw", accepted: 1 });
    expect(audio.hasTimer).toBe(false);
  });

  it("fills a hole at the end of a burst by its timer: 60 ms after, not on the next packet", () => {
    const { audio, fills } = collect();
    for (let n = 1; n <= 4; n++) {
      audio.push(phone(n, n));
      vi.advanceTimersByTime(20);
    }
    audio.push(phone(6, 6)); // 5 is lost, and nothing follows for a while
    expect(fills()).toEqual([1, 2, 3, 4]);
    vi.advanceTimersByTime(60);
    expect(fills()).toEqual([1, 2, 3, 4, 0, 6]);
    expect(audio.figures()).toMatchObject({
      format: "phone",
      accepted: 5,
      lost: 1,
      lossFilledMs: 20,
    });
    expect(audio.hasTimer).toBe(false);
  });

  it("starts the sequence anew after restart(), and close() stops everything", () => {
    const { audio, fills } = collect();
    for (let n = 1; n <= 30; n++) {
      audio.push(phone(n, n));
      vi.advanceTimersByTime(20);
    }
    audio.restart();
    // A rejoined phone numbers from 1 again at once: no duplicates, no loss.
    for (let n = 1; n <= 3; n++) audio.push(phone(n, 100 + n));
    expect(fills().slice(-3)).toEqual([101, 102, 103]);
    expect(audio.figures()).toMatchObject({ accepted: 33, duplicate: 0, lost: 0 });
    audio.push(phone(5, 5)); // 4 missing: a timer waits for it
    expect(audio.hasTimer).toBe(true);
    audio.close();
    expect(audio.hasTimer).toBe(false);
    audio.push(phone(4, 4));
    expect(audio.figures().accepted).toBe(33);
  });
});
