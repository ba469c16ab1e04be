import { describe, expect, it } from "vitest";
import { type SpliceFrame, StreamSplicer } from "../src/stream-splicer.js";

const RATE = 16_000;

/** Seeded noise-like "speech": every sample distinct enough that no stretch repeats. */
function signal(samples: number, seed = 1): Int16Array {
  let state = seed >>> 0;
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    out[i] = Math.round(3_000 * Math.sin(i / 7) + ((state >>> 16) % 12_000) - 6_000);
  }
  return out;
}

/** Cuts samples [from, to) of `pcm` into frames of `frameSamples`, stamped as received at `t0`. */
function frames(pcm: Int16Array, from: number, to: number, frameSamples: number, t0 = 0) {
  const out: SpliceFrame[] = [];
  for (let at = from; at < to; at += frameSamples) {
    const samples = pcm.slice(at, Math.min(to, at + frameSamples));
    out.push({
      samples,
      sampleRate: RATE,
      channels: 1,
      timestampMs: t0 + (at * 1000) / RATE,
      durationMs: (samples.length * 1000) / RATE,
    });
  }
  return out;
}

function joined(parts: readonly SpliceFrame[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, f) => n + f.samples.length, 0));
  let at = 0;
  for (const f of parts) {
    out.set(f.samples, at);
    at += f.samples.length;
  }
  return out;
}

describe("StreamSplicer", () => {
  it("joins the streams bit for bit when the new one is ahead: every sample once", () => {
    const pcm = signal(RATE * 2);
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    // The old stream delivered 0..1000 ms in 20 ms frames; the new one joined at 600 ms
    // and, framed differently (10 ms, off by 37 samples), is already at 1100 ms.
    for (const f of frames(pcm, 0, 16_000, 320)) {
      out.push(...splicer.pushOld(f));
    }
    const fresh = frames(pcm, 9_637, 17_600, 160);
    for (const f of fresh) out.push(...splicer.pushNew(f));
    expect(splicer.method).toBe("exact");
    // Late frames of the old stream change nothing; the new one passes straight through.
    for (const f of frames(pcm, 16_000, 16_320, 320)) splicer.pushOld(f);
    for (const f of frames(pcm, 17_600, 20_000, 160)) out.push(...splicer.pushNew(f));
    expect(joined(out)).toEqual(pcm.subarray(0, 20_000));
  });

  it("holds the new stream until it catches up with the old one", () => {
    const pcm = signal(RATE * 2, 5);
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    const old = frames(pcm, 0, 20_000, 320);
    const fresh = frames(pcm, 12_000, 24_000, 320);
    // Interleaved as they would arrive: old at 0..1250 ms; new (joined at 750 ms) delivers
    // a frame only after the old stream already passed it.
    let o = 0;
    for (const f of fresh) {
      while (o < old.length && (old[o]?.timestampMs ?? 0) <= f.timestampMs + 40) {
        out.push(...splicer.pushOld(old[o++] as SpliceFrame));
      }
      const released = splicer.pushNew(f);
      out.push(...released);
    }
    expect(splicer.method).toBe("exact");
    expect(joined(out)).toEqual(pcm.subarray(0, 24_000));
  });

  it("picks the repeat of a periodic sound that the receive times point at", () => {
    // 440 Hz at 16 kHz repeats itself exactly every 400 samples (25 ms).
    const tone = Int16Array.from({ length: RATE * 2 }, (_, i) =>
      Math.round(10_000 * Math.sin((2 * Math.PI * 440 * i) / RATE)),
    );
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    for (const f of frames(tone, 0, 16_000, 320)) {
      out.push(...splicer.pushOld(f));
    }
    for (const f of frames(tone, 8_000, 20_000, 320)) out.push(...splicer.pushNew(f));
    expect(splicer.method).toBe("exact");
    expect(joined(out).length).toBe(20_000);
    expect(out.at(-1)?.timestampMs).toBeCloseTo((19_840 * 1000) / RATE, 5);
  });

  it("finds the junction by correlation when the two decodes differ slightly", () => {
    const pcm = signal(RATE, 9);
    const other = pcm.map((v, i) => v + ((i * 7919) % 61) - 30); // a different decode
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    for (const f of frames(pcm, 0, 8_000, 320)) {
      out.push(...splicer.pushOld(f));
    }
    for (const f of frames(other, 4_000, 12_000, 320)) out.push(...splicer.pushNew(f));
    expect(splicer.method).toBe("correlated");
    const result = joined(out);
    expect(result.length).toBe(12_000);
    // From the junction on it is the new decode, with no sample repeated or skipped.
    expect(result.subarray(8_000)).toEqual(other.subarray(8_000, 12_000));
  });

  it("does not place silence by content; forced, it joins by receive time", () => {
    const splicer = new StreamSplicer();
    const silence = new Int16Array(RATE);
    for (const f of frames(silence, 0, 8_000, 320, 1_000)) expect(splicer.pushOld(f)).toEqual([f]);
    // The new stream's frames are stamped 3 ms later than the same audio on the old one.
    const fresh = frames(silence, 4_000, 12_000, 320, 1_003);
    for (const f of fresh) expect(splicer.pushNew(f)).toEqual([]);
    const released = splicer.force();
    expect(splicer.method).toBe("timestamps");
    // The old stream ended at 1500 ms; the new one's audio from then on, by its own stamps:
    // its clock runs 3 ms late, so 3 ms come twice (receive times are only that good).
    expect(joined(released).length).toBe(12_000 - 8_000 + 48);
    expect(released[0]?.timestampMs).toBeCloseTo(1_500, 5);
    expect(splicer.force()).toEqual([]);
  });

  it("holds no more than the search window of the new stream", () => {
    const pcm = signal(RATE * 4, 3);
    const splicer = new StreamSplicer({ searchMs: 500 });
    for (const f of frames(pcm, 0, 3_200, 320)) splicer.pushOld(f);
    // The new stream carries other audio entirely: nothing to find, and only ~520 ms held.
    for (const f of frames(pcm, 32_000, 64_000, 320)) expect(splicer.pushNew(f)).toEqual([]);
    const released = splicer.force();
    expect(joined(released).length).toBeLessThanOrEqual(RATE * 0.52 + 320);
  });

  it("waits for an exact copy when the new bridge's receive times run late, and never takes a look-alike", () => {
    // Packets that differ in one sample only (a number, then 319 × 1000): every one
    // correlates with every other at 0.99, so only an exact copy can place the junction.
    const packet = (n: number) => {
      const samples = new Int16Array(320).fill(1_000);
      samples[0] = n;
      return samples;
    };
    const frame = (n: number, lateMs: number): SpliceFrame => ({
      samples: packet(n),
      sampleRate: RATE,
      channels: 1,
      timestampMs: n * 20 + lateMs,
      durationMs: 20,
    });
    const splicer = new StreamSplicer();
    const numbers: number[] = [];
    // The new bridge receives each packet 100 ms (5 packets) after the old one did, and
    // stamps it then; both streams deliver as packets come in.
    for (let n = 0; n < 40; n++) {
      for (const f of splicer.pushOld(frame(n, 0))) numbers.push(f.samples[0] ?? -1);
      if (n >= 15)
        for (const f of splicer.pushNew(frame(n - 5, 100))) numbers.push(f.samples[0] ?? -1);
    }
    expect(splicer.method).toBe("exact");
    expect(numbers).toEqual(Array.from({ length: 35 }, (_, n) => n));
  });

  describe("data packets that one bridge lost (silence of their length there)", () => {
    // The device farm's packets: a number, then 319 × 1000. A lost one is 320 zeros.
    const packet = (n: number, lost: boolean) => {
      const samples = new Int16Array(320).fill(lost ? 0 : 1_000);
      if (!lost) samples[0] = n;
      return samples;
    };
    const frame = (n: number, lateMs: number, lost: ReadonlySet<number>): SpliceFrame => ({
      samples: packet(n, lost.has(n)),
      sampleRate: RATE,
      channels: 1,
      timestampMs: n * 20 + lateMs,
      durationMs: 20,
    });
    /** Runs a handover: the new bridge is `lagPackets` behind; returns the numbers handed out. */
    function run(oldLost: ReadonlySet<number>, newLost: ReadonlySet<number>, lagPackets = 5) {
      const splicer = new StreamSplicer();
      const numbers: number[] = [];
      for (let n = 0; n < 40; n++) {
        for (const f of splicer.pushOld(frame(n, 0, oldLost))) numbers.push(f.samples[0] ?? -1);
        if (n >= 15 + lagPackets) {
          const fresh = frame(n - lagPackets, lagPackets * 20, newLost);
          for (const f of splicer.pushNew(fresh)) numbers.push(f.samples[0] ?? -1);
        }
      }
      return { method: splicer.method, numbers };
    }
    /** 0..34 in order, a lost packet's place kept (as 0; packet 0's number is 0 too). */
    const expected = (lost: ReadonlySet<number>) =>
      Array.from({ length: 35 }, (_, n) => (lost.has(n) ? 0 : n));

    it("places the junction by an earlier packet when the new bridge lost the old one's last", () => {
      // The new bridge first delivers once the old one handed out up to packet 20; it lost 20.
      const result = run(new Set(), new Set([20]));
      expect(result.method).toBe("exact");
      expect(result.numbers).toEqual(expected(new Set()));
    });

    it("places it when the old bridge's last packets were lost (silence at its end)", () => {
      const result = run(new Set([19, 20]), new Set());
      expect(result.method).toBe("exact");
      expect(result.numbers).toEqual(expected(new Set([19, 20])));
    });

    it("places it when both lost packets around the junction, each its own", () => {
      const result = run(new Set([20, 22]), new Set([18, 19, 30]));
      expect(result.method).toBe("exact");
      // Up to the junction the old bridge's audio, after it the new one's.
      expect(result.numbers).toEqual(expected(new Set([20, 30])));
    });
  });

  it("hands out the old stream up to where the new one starts, when the new one starts ahead", () => {
    const pcm = signal(RATE, 21);
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    const old = frames(pcm, 0, 8_000, 320);
    const fresh = frames(pcm, 3_200, 8_000, 320); // starts at 200 ms, ahead of the old one
    for (const f of old.slice(0, 8)) out.push(...splicer.pushOld(f)); // 0..160 ms handed out
    out.push(...splicer.pushNew(fresh[0] as SpliceFrame)); // held: nothing to find yet
    expect(out).toHaveLength(8);
    for (const f of old.slice(8, 12)) out.push(...splicer.pushOld(f)); // reaches 240 ms
    expect(splicer.method).toBe("exact");
    for (const f of fresh.slice(1)) out.push(...splicer.pushNew(f));
    expect(joined(out)).toEqual(pcm.subarray(0, 8_000));
  });

  it("gives the held old audio back when the handover is abandoned", () => {
    const pcm = signal(RATE, 4);
    const splicer = new StreamSplicer();
    const out: SpliceFrame[] = [];
    const old = frames(pcm, 0, 6_400, 320);
    for (const f of old.slice(0, 5)) out.push(...splicer.pushOld(f));
    splicer.pushNew(frames(signal(RATE, 99), 0, 320, 320)[0] as SpliceFrame);
    for (const f of old.slice(5, 10)) out.push(...splicer.pushOld(f));
    expect(out).toHaveLength(5);
    out.push(...splicer.abandon());
    for (const f of old.slice(10)) out.push(...splicer.pushOld(f));
    expect(splicer.method).toBeUndefined();
    expect(joined(out)).toEqual(pcm.subarray(0, 6_400));
  });
});
