/**
 * Puts a phone's packets back on one timeline from their sequence byte (modulo 256) and
 * their arrival times: drops duplicates, reorders within a small window, drops what comes
 * later than that, and fills every loss with exactly the lost duration of silence.
 */

/** What the tracker hands on, in timeline order. */
export type TrackedAudio =
  | { readonly kind: "audio"; readonly pcm: Uint8Array; readonly arrivedAt: number }
  /** `packets` lost packets: `bytes` of silence (zeros) stand in for them. */
  | { readonly kind: "silence"; readonly packets: number; readonly bytes: number };

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

const HISTORY = 256;
/**
 * A packet held back longer than this (in packets: how far behind the highest it is plus
 * the time since that one came) is no duplicate or late one but a restart.
 */
const BEHIND_LIMIT = 32;
/** Nor one further ahead than the time since the highest arrived allows, plus this jitter. */
const AHEAD_SLACK = 50;
const RECEIVED = 1;
const LOST = 2;
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
 * best matches the packets that the time since the highest one arrived is worth. So 6 s
 * without packets and a byte 45 further on means 300 lost, not 44; a repeat of the last
 * byte a moment later is a duplicate, not 255 lost.
 */
export function createSequenceTracker(options: SequenceTrackerOptions): SequenceTracker {
  const reorderPackets = options.reorderPackets ?? 3;
  const reorderMs = options.reorderMs ?? 60;
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
  // The fate of the last HISTORY indices behind `next`, to tell duplicates from late ones.
  const historyIndex = new Float64Array(HISTORY).fill(-1);
  const historyFate = new Uint8Array(HISTORY);
  const waiting = new Map<number, { pcm: Uint8Array; arrivedAt: number }>();
  let next = 0;
  let highest: { index: number; arrivedAt: number } | undefined;
  let packetBytes = 0;
  let holeSince = 0;
  /** The packets taken as duplicates or late ones since the last one that was not. */
  let behind: {
    sequence: number;
    pcm: Uint8Array;
    arrivedAt: number;
    fate: "duplicate" | "late";
  }[] = [];

  const packetMs = () => Math.max(1, packetBytes / options.bytesPerMs);
  const maxFillPackets = () => Math.floor(maxFillMs / packetMs());

  function remember(index: number, fate: number) {
    const slot = ((index % HISTORY) + HISTORY) % HISTORY;
    historyIndex[slot] = index;
    historyFate[slot] = fate;
  }

  function fateOf(index: number): number {
    const slot = ((index % HISTORY) + HISTORY) % HISTORY;
    return historyIndex[slot] === index ? (historyFate[slot] ?? 0) : 0;
  }

  /** The unbounded index `sequence` stands for, or undefined for a restart. */
  function indexOf(sequence: number, arrivedAt: number): number | undefined {
    if (highest === undefined) return sequence;
    const elapsed = (arrivedAt - highest.arrivedAt) / packetMs();
    const r = (((sequence - highest.index) % 256) + 256) % 256;
    let best = r - 256;
    for (let a = r; a <= maxFillPackets() + 1; a += 256) {
      if (Math.abs(a - elapsed) < Math.abs(best - elapsed)) best = a;
    }
    // Further than any fill allows, or than the network could hold back or reorder: only
    // a restart explains it.
    if (best - 1 > maxFillPackets() || elapsed - 1 > maxFillPackets()) return undefined;
    // (A packet `b` behind arriving `elapsed` after the highest was held back b + elapsed.)
    if (best < 0 && elapsed - best > BEHIND_LIMIT) return undefined;
    if (best > elapsed + AHEAD_SLACK) return undefined;
    return highest.index + best;
  }

  function release(out: TrackedAudio[]) {
    for (let item = waiting.get(next); item !== undefined; item = waiting.get(next)) {
      waiting.delete(next);
      remember(next, RECEIVED);
      packetBytes = item.pcm.byteLength;
      counts.accepted++;
      out.push({ kind: "audio", pcm: item.pcm, arrivedAt: item.arrivedAt });
      next++;
    }
  }

  /** Declares the packets from `next` up to `end` lost, then releases what follows. */
  function fillTo(end: number, out: TrackedAudio[]) {
    const packets = end - next;
    for (let index = next; index < end; index++) remember(index, LOST);
    counts.lost += packets;
    counts.filledMs += packets * packetMs();
    out.push({ kind: "silence", packets, bytes: packets * packetBytes });
    next = end;
    release(out);
  }

  /** Declares the hole at `next` lost (up to the first waiting packet) and releases after it. */
  function fillHole(out: TrackedAudio[]) {
    fillTo(Math.min(...waiting.keys()), out);
  }

  /**
   * Fills what can no longer be reordered: the whole hole once more than `reorderPackets`
   * wait behind it or it is `reorderMs` old; before that, the part of it more than
   * `reorderPackets` behind the highest packet (6 s of loss need not wait 60 ms).
   */
  function settle(now: number, out: TrackedAudio[]) {
    while (waiting.size > 0) {
      if (waiting.size <= reorderPackets && now - holeSince < reorderMs) {
        const lowest = Math.min(...waiting.keys());
        const hopeless = Math.min(lowest, (highest?.index ?? 0) - reorderPackets);
        if (hopeless > next) {
          fillTo(hopeless, out);
          if (hopeless === lowest) waitSince(now);
          continue;
        }
        return;
      }
      fillHole(out);
      waitSince(now);
    }
  }

  /** The next hole has been waited for since the first packet behind it arrived. */
  function waitSince(now: number) {
    holeSince = Math.min(now, ...[...waiting.values()].map((item) => item.arrivedAt));
  }

  function restart(): TrackedAudio[] {
    const out: TrackedAudio[] = [];
    while (waiting.size > 0) fillHole(out);
    highest = undefined;
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
    if (arrivedAt - first.arrivedAt < ((RESTART_RUN - 1) * packetMs()) / 2) return;
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
    if (packetBytes === 0) packetBytes = pcm.byteLength;
    let index = indexOf(sequence, arrivedAt);
    if (index === undefined) {
      out.push(...restart());
      counts.resyncs++;
      index = sequence;
    }
    if (highest === undefined) next = index;
    if (index < next) {
      takeBehind(sequence, pcm, arrivedAt, fateOf(index) === RECEIVED ? "duplicate" : "late", out);
      return;
    }
    behind = [];
    if (waiting.has(index)) {
      counts.duplicate++;
      return;
    }
    if (highest !== undefined && index < highest.index) counts.reordered++;
    if (highest === undefined || index > highest.index) highest = { index, arrivedAt };
    if (waiting.size === 0 && index !== next) holeSince = arrivedAt;
    waiting.set(index, { pcm, arrivedAt });
    release(out);
    settle(arrivedAt, out);
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
      settle(now, out);
      return out;
    },
    deadline() {
      return waiting.size > 0 ? holeSince + reorderMs : undefined;
    },
    counts,
  };
}
