/** What the sequence tracker hands on, in timeline order. */
export type TrackedAudio =
  | { readonly kind: "audio"; readonly pcm: Uint8Array; readonly arrivedAt: number }
  /** `packets` lost packets: `bytes` of silence (zeros) stand in for them. */
  | { readonly kind: "silence"; readonly packets: number; readonly bytes: number };

/** The counts a {@link ReorderWindow} keeps (a slice of the tracker's SequenceCounts). */
export interface ReorderCounts {
  accepted: number;
  lost: number;
  reordered: number;
  filledMs: number;
}

/** Options of {@link createReorderWindow}. */
export interface ReorderWindowOptions {
  /** PCM bytes per millisecond. */
  readonly bytesPerMs: number;
  /** A hole is waited for while at most this many packets wait behind it. */
  readonly reorderPackets: number;
  /** Nor longer than this. */
  readonly reorderMs: number;
  /** Where accepted, lost and reordered packets and filled silence are counted. */
  readonly counts: ReorderCounts;
}

/** The highest index taken on the timeline, and when it arrived. */
export interface HighestPacket {
  readonly index: number;
  readonly arrivedAt: number;
}

/**
 * One timeline of unbounded packet indices: the packets waiting behind a hole, the next
 * index due, and the fates of the indices just behind it.
 */
export interface ReorderWindow {
  /** How long one packet lasts (ms, at least 1), from the size of the packets so far. */
  packetMs(): number;
  /** Takes the size of `bytes` as the packet size when none is known yet. */
  sizePackets(bytes: number): void;
  /** The highest index taken; undefined until a timeline starts. */
  highest(): HighestPacket | undefined;
  /** Starts the timeline at `index` unless one is running. */
  begin(index: number): void;
  /** Whether `index` is behind the next one due (played or filled already). */
  isBehind(index: number): boolean;
  /** Whether `index`, behind the timeline, was played (not filled as lost). */
  wasReceived(index: number): boolean;
  /** Whether `index` waits behind a hole already. */
  holds(index: number): boolean;
  /** Takes the packet at `index` (ahead of the timeline) and releases what is ready. */
  add(index: number, pcm: Uint8Array, arrivedAt: number, out: TrackedAudio[]): void;
  /** Fills the holes that can no longer be reordered at `now`. */
  settle(now: number, out: TrackedAudio[]): void;
  /** Fills every hole, releases everything waiting and ends the timeline. */
  flush(out: TrackedAudio[]): void;
  /** When {@link settle} must be called next; undefined while no hole is waited for. */
  deadline(): number | undefined;
}

const HISTORY = 256;
const RECEIVED = 1;
const LOST = 2;

/** Creates an empty window; the first packet added starts its timeline. */
export function createReorderWindow(options: ReorderWindowOptions): ReorderWindow {
  const { reorderPackets, reorderMs, counts } = options;
  // The fate of the last HISTORY indices behind `next`, to tell duplicates from late ones.
  const historyIndex = new Float64Array(HISTORY).fill(-1);
  const historyFate = new Uint8Array(HISTORY);
  const waiting = new Map<number, { pcm: Uint8Array; arrivedAt: number }>();
  let next = 0;
  let highest: HighestPacket | undefined;
  let packetBytes = 0;
  let holeSince = 0;

  const packetMs = () => Math.max(1, packetBytes / options.bytesPerMs);

  function remember(index: number, fate: number) {
    const slot = ((index % HISTORY) + HISTORY) % HISTORY;
    historyIndex[slot] = index;
    historyFate[slot] = fate;
  }

  function fateOf(index: number): number {
    const slot = ((index % HISTORY) + HISTORY) % HISTORY;
    return historyIndex[slot] === index ? (historyFate[slot] ?? 0) : 0;
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

  return {
    packetMs,
    sizePackets(bytes) {
      if (packetBytes === 0) packetBytes = bytes;
    },
    highest: () => highest,
    begin(index) {
      if (highest === undefined) next = index;
    },
    isBehind: (index) => index < next,
    wasReceived: (index) => fateOf(index) === RECEIVED,
    holds: (index) => waiting.has(index),
    add(index, pcm, arrivedAt, out) {
      if (highest !== undefined && index < highest.index) counts.reordered++;
      if (highest === undefined || index > highest.index) highest = { index, arrivedAt };
      if (waiting.size === 0 && index !== next) holeSince = arrivedAt;
      waiting.set(index, { pcm, arrivedAt });
      release(out);
      settle(arrivedAt, out);
    },
    settle,
    flush(out) {
      while (waiting.size > 0) fillHole(out);
      highest = undefined;
    },
    deadline() {
      return waiting.size > 0 ? holeSince + reorderMs : undefined;
    },
  };
}
