import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSequenceTracker, type TrackedAudio } from "../../src/audio/sequence-tracker.js";

const PACKET_BYTES = 640; // 20 ms of 16 kHz mono
const PACKET_MS = 20;

/** Packet `n`'s PCM: every byte is n modulo 251 (plus one, so it is never silence). */
const pcmOf = (n: number) => new Uint8Array(PACKET_BYTES).fill((n % 251) + 1);

interface Arrival {
  readonly n: number;
  readonly at: number;
}

/** Feeds arrivals of packets numbered from `first` and returns the timeline. */
function run(arrivals: readonly Arrival[], first = 1, pollAt?: number) {
  const tracker = createSequenceTracker({ bytesPerMs: 32 });
  const out: TrackedAudio[] = [];
  for (const { n, at } of arrivals) {
    out.push(...tracker.poll(at));
    out.push(...tracker.push((first + n) % 256, pcmOf(n), at));
  }
  out.push(...tracker.poll(pollAt ?? (arrivals.at(-1)?.at ?? 0) + 1_000));
  return { out, counts: tracker.counts, tracker };
}

/** The timeline as packet numbers, -1 for each packet of silence. */
function numbers(out: readonly TrackedAudio[]): number[] {
  const result: number[] = [];
  for (const item of out) {
    if (item.kind === "silence") {
      expect(item.bytes).toBe(item.packets * PACKET_BYTES);
      for (let i = 0; i < item.packets; i++) result.push(-1);
    } else {
      result.push((item.pcm[0] ?? 0) - 1);
    }
  }
  return result;
}

const inTime = (count: number) => Array.from({ length: count }, (_, n) => ({ n, at: n * 20 }));

describe("sequence tracker", () => {
  it("passes packets in order untouched across the wrap past 255", () => {
    const { out, counts } = run(inTime(40), 250);
    expect(numbers(out)).toEqual(Array.from({ length: 40 }, (_, n) => n % 251));
    expect(counts).toMatchObject({ accepted: 40, lost: 0, duplicate: 0, late: 0, reordered: 0 });
  });

  it("fills every 10th packet skipped with exactly its duration of silence", () => {
    const { out, counts } = run(inTime(100).filter(({ n }) => n % 10 !== 9));
    const timeline = numbers(out);
    expect(timeline).toHaveLength(99); // 0..98: the last skipped one is never seen
    expect(timeline.filter((n) => n === -1)).toHaveLength(9);
    expect(counts.lost).toBe(9);
    expect(counts.filledMs).toBe(9 * PACKET_MS);
  });

  it("drops duplicates and puts packets within 3 / 60 ms back in order", () => {
    const arrivals: Arrival[] = [];
    for (const { n, at } of inTime(30)) {
      if (n % 5 === 1) continue;
      arrivals.push({ n, at });
      if (n % 7 === 0) arrivals.push({ n, at: at + 1 });
      if (n % 5 === 2) arrivals.push({ n: n - 1, at: at + 2 }); // swapped with the next one
    }
    const { out, counts } = run(arrivals, 250);
    expect(numbers(out)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(counts.lost).toBe(0);
    expect(counts.duplicate).toBe(4); // 0, 7, 14, 28 (21 has no duplicate)
    expect(counts.reordered).toBe(6);
  });

  it("counts a packet later than the window as late and keeps the timeline", () => {
    const arrivals = inTime(20).filter(({ n }) => n !== 5);
    arrivals.push({ n: 5, at: 400 });
    const { out, counts } = run(arrivals.sort((a, b) => a.at - b.at));
    const timeline = numbers(out);
    expect(timeline).toHaveLength(20);
    expect(timeline[5]).toBe(-1);
    expect(counts).toMatchObject({ lost: 1, late: 1, accepted: 19 });
  });

  it("tells a 6 s outage (300 packets) from the wrap by arrival time", () => {
    const arrivals = inTime(400).filter(({ n }) => n < 50 || n >= 350);
    const { out, counts } = run(arrivals);
    expect(numbers(out)).toHaveLength(400);
    expect(counts.lost).toBe(300);
    expect(counts.filledMs).toBe(6_000);
  });

  it("fills a hole that stays open once the reorder time has passed", () => {
    const tracker = createSequenceTracker({ bytesPerMs: 32 });
    tracker.push(1, pcmOf(0), 0);
    expect(tracker.push(3, pcmOf(2), 40)).toEqual([]);
    expect(tracker.deadline()).toBe(100);
    expect(tracker.poll(99)).toEqual([]);
    expect(numbers(tracker.poll(100))).toEqual([-1, 2]);
    expect(tracker.deadline()).toBeUndefined();
  });

  it("treats a gap longer than 10 s as a restart and fills nothing", () => {
    const arrivals = [...inTime(10), { n: 10, at: 60_000 }];
    const { out, counts } = run(arrivals);
    expect(numbers(out)).toEqual(Array.from({ length: 11 }, (_, n) => n));
    expect(counts).toMatchObject({ lost: 0, resyncs: 1, filledMs: 0 });
  });

  it("restarts on a sequence no network explains: a new device numbering from 1", () => {
    const tracker = createSequenceTracker({ bytesPerMs: 32 });
    for (let n = 0; n < 20; n++) tracker.push(1 + n, pcmOf(n), n * 20);
    // 1 s later a new device starts at 1 again: 20 behind is no duplicate after 1 s.
    const out: TrackedAudio[] = [];
    for (let n = 0; n < 5; n++) out.push(...tracker.push(1 + n, pcmOf(100 + n), 1_400 + n * 20));
    expect(numbers(out)).toEqual([100, 101, 102, 103, 104]);
    expect(tracker.counts).toMatchObject({ accepted: 25, duplicate: 0, lost: 0, resyncs: 1 });
  });

  it("restarts on a run of packets behind it paced like a live sender: a device back 300 ms later from 1", () => {
    const tracker = createSequenceTracker({ bytesPerMs: 32 });
    for (let n = 0; n < 15; n++) tracker.push(1 + n, pcmOf(n), n * 20);
    // 15 behind 300 ms later looks like a duplicate of packet 1, then of 2, 3…: the old
    // timeline would drop the new device's first 15 packets. Three in a row restart it.
    const out: TrackedAudio[] = [];
    for (let n = 0; n < 20; n++) out.push(...tracker.push(1 + n, pcmOf(100 + n), 580 + n * 20));
    expect(numbers(out)).toEqual(Array.from({ length: 20 }, (_, n) => 100 + n));
    expect(tracker.counts).toMatchObject({
      accepted: 35,
      duplicate: 0,
      late: 0,
      lost: 0,
      resyncs: 1,
    });
  });

  it("keeps the timeline for a burst of late packets that arrive at once", () => {
    // 5, 6, 7 held back past the window and delivered together after 8..11.
    const arrivals = inTime(14).filter(({ n }) => n < 5 || n > 7);
    arrivals.push({ n: 5, at: 300 }, { n: 6, at: 300.5 }, { n: 7, at: 301 });
    const { out, counts } = run(arrivals.sort((a, b) => a.at - b.at));
    const timeline = numbers(out);
    expect(timeline).toEqual([0, 1, 2, 3, 4, -1, -1, -1, 8, 9, 10, 11, 12, 13]);
    expect(counts).toMatchObject({ late: 3, lost: 3, resyncs: 0 });
  });

  it("property: the timeline is the sent one, with silence exactly where packets were lost", () => {
    const fault = fc.constantFrom("ok", "ok", "ok", "lose", "duplicate", "swap");
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.array(fault, { minLength: 2, maxLength: 400 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 400, maxLength: 400 }),
        (first, faults, jitter) => {
          const arrivals: Arrival[] = [];
          const lost = new Set<number>();
          for (const [n, kind] of faults.entries()) {
            const at = n * PACKET_MS + (jitter[n] ?? 0);
            if (kind === "lose") lost.add(n);
            else arrivals.push({ n, at });
            if (kind === "duplicate") arrivals.push({ n, at: at + 1 });
            const previous = arrivals.length - 2;
            const before = arrivals[previous];
            const last = arrivals[previous + 1];
            if (
              kind === "swap" &&
              before !== undefined &&
              last !== undefined &&
              before.n === n - 1
            ) {
              arrivals[previous] = { n, at: before.at };
              arrivals[previous + 1] = { n: before.n, at };
            }
          }
          const { out, counts } = run(arrivals, first);
          const seen = arrivals.map((a) => a.n);
          const firstSeen = Math.min(...seen);
          const lastSeen = Math.max(...seen);
          const expected: number[] = [];
          for (let n = firstSeen; n <= lastSeen; n++) expected.push(lost.has(n) ? -1 : n);
          // A packet that came first though an earlier one followed (a swap at the start)
          // starts the timeline; the earlier one is late.
          const timeline = numbers(out);
          const start = expected.indexOf(timeline[0] ?? -2);
          expect(timeline).toEqual(expected.slice(start));
          expect(counts.lost).toBe(timeline.filter((n) => n === -1).length);
          expect(counts.resyncs).toBe(0);
        },
      ),
    );
  });
});
