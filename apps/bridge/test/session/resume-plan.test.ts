import { describe, expect, it } from "vitest";
import { planResume } from "../../src/session/resume-plan.js";

interface Chunk {
  readonly sequence: number;
  readonly ms: number;
}

const chunks = (from: number, to: number, ms = 100): Chunk[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ sequence: from + i, ms }));
const weigh = (chunk: Chunk) => chunk.ms;
const sequences = (list: readonly Chunk[]) => list.map((chunk) => chunk.sequence);

describe("planResume", () => {
  it("sends what was in flight, then what was queued, each once and in order", () => {
    // The cloud got up to 10; 11-13 were sent on the broken stream, 12-20 are queued
    // (12 and 13 in both, as when a write failed half-way).
    const plan = planResume(10, 20, chunks(11, 13), chunks(12, 20), 2_000, weigh);
    expect(sequences(plan.chunks)).toEqual(sequences(chunks(11, 20)));
    expect(plan.nextSequence).toBe(11);
    expect(plan.missed).toBe(0);
  });

  it("counts as missed what neither the replay buffer nor the queue held", () => {
    const plan = planResume(10, 20, [], chunks(15, 20), 2_000, weigh);
    expect(sequences(plan.chunks)).toEqual(sequences(chunks(15, 20)));
    expect(plan.nextSequence).toBe(15);
    expect(plan.missed).toBe(4);
  });

  it("keeps the newest that fit the queue and counts the oldest as missed", () => {
    // 5 replayed + 20 queued = 2.5 s against a 2 s queue: 11-15 cannot be sent.
    const plan = planResume(10, 35, chunks(11, 15), chunks(16, 35), 2_000, weigh);
    expect(sequences(plan.chunks)).toEqual(sequences(chunks(16, 35)));
    expect(plan.chunks.reduce((sum, chunk) => sum + chunk.ms, 0)).toBe(2_000);
    expect(plan.nextSequence).toBe(16);
    expect(plan.missed).toBe(5);
    // Everything after the resume point is either sent or counted.
    expect(plan.chunks.length + plan.missed).toBe(35 - 10);
  });

  it("still sends a single chunk heavier than the whole queue", () => {
    const plan = planResume(1, 2, [{ sequence: 2, ms: 5_000 }], [], 2_000, weigh);
    expect(sequences(plan.chunks)).toEqual([2]);
    expect(plan.missed).toBe(0);
  });

  it("resumes with nothing to send when the cloud already had everything", () => {
    const plan = planResume(20, 20, chunks(15, 20), [], 2_000, weigh);
    expect(plan.chunks).toEqual([]);
    expect(plan.nextSequence).toBe(21);
    expect(plan.missed).toBe(0);
  });
});
