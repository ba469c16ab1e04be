import type { Sequenced } from "./replay-buffer.js";

/** What a stream resumed after a given sequence is sent, and what it has lost. */
export interface ResumePlan<T> {
  /** The chunks to queue again, in order, each once; together within the queue's capacity. */
  readonly chunks: T[];
  /** The first sequence the stream sends. */
  readonly nextSequence: number;
  /** Chunks after the resume point that it will never get. */
  readonly missed: number;
}

/**
 * Plans a resume after `sequence`, the last chunk the cloud received, from what the session
 * holds: chunks sent on the broken stream (`replayed`) and chunks not sent yet (`queued`).
 * `lastSequence` is the newest chunk produced. Everything goes back into one queue of
 * `capacity` (in `weigh` units), so when replayed and queued together exceed it, the oldest
 * are missed, as are those neither held, and `missed` counts both: nothing is lost unsaid.
 */
export function planResume<T extends Sequenced>(
  sequence: number,
  lastSequence: number,
  replayed: readonly T[],
  queued: readonly T[],
  capacity: number,
  weigh: (chunk: T) => number,
): ResumePlan<T> {
  const bySequence = new Map<number, T>();
  for (const chunk of [...replayed, ...queued]) {
    if (chunk.sequence > sequence) bySequence.set(chunk.sequence, chunk);
  }
  const chunks = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
  let total = chunks.reduce((sum, chunk) => sum + weigh(chunk), 0);
  let from = 0;
  // (a single chunk heavier than the whole capacity is still sent, as the queue takes it)
  while (total > capacity && from < chunks.length - 1) {
    total -= weigh(chunks[from] as T);
    from++;
  }
  const kept = chunks.slice(from);
  const first = kept[0]?.sequence ?? Math.max(sequence, lastSequence) + 1;
  return {
    chunks: kept,
    nextSequence: first,
    missed: Math.max(0, Math.min(first, lastSequence + 1) - sequence - 1),
  };
}
