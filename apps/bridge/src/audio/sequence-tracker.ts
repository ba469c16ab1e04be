/**
 * Puts a phone's packets back on one timeline from their sequence byte (modulo 256) and
 * their arrival times: drops duplicates, reorders within a small window, drops what comes
 * later than that, and fills every loss with exactly the lost duration of silence.
 */

import { createReorderWindow, type HighestPacket, type TrackedAudio } from "./reorder-window.js";

export type { TrackedAudio } from "./reorder-window.js";

/** The fates of packets so far. */
export interface SequenceCounts {
  /** Passed on as audio (reordered ones included). */
  accepted: number;
  /** Never arrived (or too late); filled with silence. */
  lost: number;
  /** A packet already taken. */
  duplicate: number;
  /** Arrived after its place was filled as lost. */
  late: number;
  /** Arrived out of order and put back in order within the window. */
  reordered: number;
  /**
   * Packets no timeline explains (a gap longer than `maxFillMs`, or further behind or
   * ahead than the network can hold packets back): the stream restarted there, unfilled.
   */
  resyncs: number;
  /** Silence put in for lost packets (ms). */
  filledMs: number;
}

/** Options of {@link createSequenceTracker}. */
export interface SequenceTrackerOptions {
  /** PCM bytes per millisecond (32: 16 kHz mono 16-bit). */
  readonly bytesPerMs: number;
  /** A hole is waited for while at most this many packets wait behind it (default 3). */
  readonly reorderPackets?: number;
  /** Nor longer than this (default 60 ms). */
  readonly reorderMs?: number;
  /** A gap longer than this is a restart, not a loss (default 10 s). */
  readonly maxFillMs?: number;
}

/** One session's sequence tracker. */
export interface SequenceTracker {
  /** Takes the packet with sequence byte `sequence`; returns what is ready, in order. */
  push(sequence: number, pcm: Uint8Array, arrivedAt: number): TrackedAudio[];
  /** Gives up on a hole whose reorder time has passed at `now`. */
  poll(now: number): TrackedAudio[];
  /**
   * The sender restarted (a new participant): what waits goes out, holes before it
   * filled, and the next packet starts a new timeline.
   */
  restart(): TrackedAudio[];
  /** When {@link poll} must be called next; undefined while no hole is waited for. */
  deadline(): number | undefined;
  /** The counts so far (live). */
  readonly counts: Readonly<SequenceCounts>;
}

/**
 * A packet held back longer than this (in packets: how far behind the highest it is plus
 * the time since that one came) is no duplicate or late one but a restart.
 */
const BEHIND_LIMIT = 32;
/** Nor one further ahead than the time since the highest arrived allows, plus this jitter. */
const AHEAD_SLACK = 50;
/**
 * This many packets in a row taken as duplicates or late ones, each one on from the last,
 * paced like a live sender and with no newer packet among them, are a sender that
 * restarted behind the timeline (a device that rejoined numbering from 1 again): the
 * timeline restarts at the first of them, and they are played.
 */
const RESTART_RUN = 3;

/**
 * Creates a tracker. Packets are numbered on an unbounded index: a sequence byte stands
 * for the index `highest + a` whose advance `a` (congruent modulo 256, possibly negative)
 * best matches the packets that the time since the highest one arrived is worth (see
 * {@link indexOfSequence}); the reorder window puts them in order and fills the holes.
 */
export function createSequenceTracker(options: SequenceTrackerOptions): SequenceTracker {
  const maxFillMs = options.maxFillMs ?? 10_000;
  const counts: SequenceCounts = {
    accepted: 0,
    lost: 0,
    duplicate: 0,
    late: 0,
    reordered: 0,
    resyncs: 0,
    filledMs: 0,
  };
  const timeline = createReorderWindow({
    bytesPerMs: options.bytesPerMs,
    reorderPackets: options.reorderPackets ?? 3,
    reorderMs: options.reorderMs ?? 60,
    counts,
  });
  /** The packets taken as duplicates or late ones since the last one that was not. */
  let behind: {
    sequence: number;
    pcm: Uint8Array;
    arrivedAt: number;
    fate: "duplicate" | "late";
  }[] = [];

  function restart(): TrackedAudio[] {
    const out: TrackedAudio[] = [];
    timeline.flush(out);
    behind = [];
    return out;
  }

  /**
   * Counts a packet behind the timeline as `fate`; on the {@link RESTART_RUN}th of a run
   * that only a restarted sender explains, restarts the timeline with the run.
   */
  function takeBehind(
    sequence: number,
    pcm: Uint8Array,
    arrivedAt: number,
    fate: "duplicate" | "late",
    out: TrackedAudio[],
  ) {
    counts[fate]++;
    const last = behind.at(-1);
    if (last !== undefined && (sequence - last.sequence + 256) % 256 !== 1) behind = [];
    behind.push({ sequence, pcm, arrivedAt, fate });
    const first = behind[0];
    if (behind.length < RESTART_RUN || first === undefined) return;
    // A burst of held-back packets arrives at once; a live sender's come one by one.
    if (arrivedAt - first.arrivedAt < ((RESTART_RUN - 1) * timeline.packetMs()) / 2) return;
    const run = behind;
    behind = [];
    out.push(...restart());
    counts.resyncs++;
    for (const packet of run) {
      counts[packet.fate]--;
      take(packet.sequence, packet.pcm, packet.arrivedAt, out);
    }
  }

  function take(sequence: number, pcm: Uint8Array, arrivedAt: number, out: TrackedAudio[]) {
    timeline.sizePackets(pcm.byteLength);
    let index = indexOfSequence(sequence, arrivedAt, timeline.highest(), {
      packetMs: timeline.packetMs(),
      maxFillMs,
    });
    if (index === undefined) {
      out.push(...restart());
      counts.resyncs++;
      index = sequence;
    }
    timeline.begin(index);
    if (timeline.isBehind(index)) {
      const fate = timeline.wasReceived(index) ? "duplicate" : "late";
      takeBehind(sequence, pcm, arrivedAt, fate, out);
      return;
    }
    behind = [];
    if (timeline.holds(index)) {
      counts.duplicate++;
      return;
    }
    timeline.add(index, pcm, arrivedAt, out);
  }

  return {
    restart,
    push(sequence, pcm, arrivedAt) {
      const out: TrackedAudio[] = [];
      take(sequence, pcm, arrivedAt, out);
      return out;
    },
    poll(now) {
      const out: TrackedAudio[] = [];
      timeline.settle(now, out);
      return out;
    },
    deadline: () => timeline.deadline(),
    counts,
  };
}

/**
 * The unbounded index sequence byte `sequence`, arriving at `arrivedAt`, stands for, or
 * undefined for a restart. So 6 s without packets and a byte 45 further on means 300
 * lost, not 44; a repeat of the last byte a moment later is a duplicate, not 255 lost.
 */
function indexOfSequence(
  sequence: number,
  arrivedAt: number,
  highest: HighestPacket | undefined,
  timing: { readonly packetMs: number; readonly maxFillMs: number },
): number | undefined {
  if (highest === undefined) return sequence;
  const { packetMs } = timing;
  const maxFillPackets = Math.floor(timing.maxFillMs / packetMs);
  const elapsed = (arrivedAt - highest.arrivedAt) / packetMs;
  const r = (((sequence - highest.index) % 256) + 256) % 256;
  let best = r - 256;
  for (let a = r; a <= maxFillPackets + 1; a += 256) {
    if (Math.abs(a - elapsed) < Math.abs(best - elapsed)) best = a;
  }
  // Further than any fill allows, or than the network could hold back or reorder: only
  // a restart explains it.
  if (best - 1 > maxFillPackets || elapsed - 1 > maxFillPackets) return undefined;
  // (A packet `b` behind arriving `elapsed` after the highest was held back b + elapsed.)
  if (best < 0 && elapsed - best > BEHIND_LIMIT) return undefined;
  if (best > elapsed + AHEAD_SLACK) return undefined;
  return highest.index + best;
}
