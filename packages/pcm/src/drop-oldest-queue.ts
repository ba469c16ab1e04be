import { createWaiters, DONE } from "./waiters.js";

/** Options of {@link createDropOldestQueue}. */
export interface DropOldestQueueOptions<T> {
  /** The most weight the queue holds, in the unit `weigh` returns (e.g. milliseconds of audio). */
  readonly capacity: number;
  /** The weight of one item: finite and not negative. */
  readonly weigh: (item: T) => number;
  /**
   * Items this returns true for are never dropped to make room (marks and clears between
   * audio, say); they still count towards the weight. Default: every item may be dropped.
   */
  readonly keep?: (item: T) => boolean;
  /** Called for every item dropped to make room, oldest first. */
  readonly onDrop?: (item: T, weight: number) => void;
}

/**
 * A FIFO between one fast producer and a slower consumer that never blocks the producer and
 * never grows past its capacity: when full it drops the oldest items, which for live audio
 * keeps latency bounded at the cost of a gap.
 */
export interface DropOldestQueue<T> extends AsyncIterable<T> {
  /**
   * Adds an item, handing it straight to a waiting consumer if there is one, else dropping
   * the oldest items (except those `keep` protects) until it fits. An item heavier than the
   * whole capacity is still accepted, alone. Returns false, keeping nothing, once closed.
   */
  push(item: T): boolean;
  /**
   * Adds an item ahead of everything queued, dropping nothing (a clear must not wait behind
   * audio), or hands it to a waiting consumer. Returns false, keeping nothing, once closed.
   */
  pushFront(item: T): boolean;
  /**
   * Resolves with the oldest item, waiting for one if the queue is empty, or with done once
   * the queue is closed and drained. Aborting `signal` rejects with its reason and withdraws
   * the wait, so no item is handed to a consumer that left. Waiting consumers are served in
   * the order they asked.
   */
  next(signal?: AbortSignal): Promise<IteratorResult<T, undefined>>;
  /**
   * Ends the stream gracefully: no more pushes; consumers get what is queued, then done.
   * Idempotent. Follow it with {@link DropOldestQueue.clear} to end at once instead.
   */
  close(): void;
  /** Discards every queued item without counting it as dropped; returns how many there were. */
  clear(): number;
  /** Removes and returns every queued item, oldest first, without counting drops. */
  drain(): T[];
  /** Removes and returns the queued items that match, oldest first, without counting drops. */
  removeWhere(match: (item: T) => boolean): T[];
  /** Items queued. */
  readonly size: number;
  /** Total weight queued. */
  readonly weight: number;
  /** Items dropped to make room, over the queue's life. */
  readonly droppedItems: number;
  /** Weight dropped to make room, over the queue's life. */
  readonly droppedWeight: number;
  /** Whether {@link DropOldestQueue.close} was called. */
  readonly closed: boolean;
}

interface Entry<T> {
  readonly item: T;
  readonly weight: number;
}

/** The weight `weigh` gives `item`, which must be finite and not negative. */
function weighChecked<T>(weigh: (item: T) => number, item: T): number {
  const itemWeight = weigh(item);
  if (!(itemWeight >= 0) || !Number.isFinite(itemWeight)) {
    throw new RangeError(`weigh must return a finite, non-negative number, got ${itemWeight}`);
  }
  return itemWeight;
}

/** Creates a {@link DropOldestQueue}. It uses no timers; waiting costs one promise per `next`. */
export function createDropOldestQueue<T>(options: DropOldestQueueOptions<T>): DropOldestQueue<T> {
  const { capacity, weigh, keep, onDrop } = options;
  if (!(capacity > 0) || !Number.isFinite(capacity)) {
    throw new RangeError(`capacity must be a positive finite number, got ${capacity}`);
  }
  // Entries from `head` on are queued; the consumed prefix is trimmed in amortised O(1).
  let entries: Entry<T>[] = [];
  let head = 0;
  let weight = 0;
  let droppedItems = 0;
  let droppedWeight = 0;
  let closed = false;
  const waiters = createWaiters<T>();

  function reset(): void {
    entries = [];
    head = 0;
    weight = 0; // Clears floating-point residue from fractional weights.
  }

  function shift(): Entry<T> | undefined {
    const entry = entries[head];
    if (entry === undefined) return undefined;
    head++;
    weight -= entry.weight;
    if (head === entries.length) {
      reset();
    } else if (head >= 1024 && head * 2 >= entries.length) {
      entries = entries.slice(head);
      head = 0;
    }
    return entry;
  }

  /** The index of the oldest entry that may be dropped, or -1. */
  function oldestDroppable(): number {
    if (keep === undefined) return head < entries.length ? head : -1;
    for (let at = head; at < entries.length; at++) {
      if (!keep((entries[at] as Entry<T>).item)) return at;
    }
    return -1;
  }

  function removeAt(at: number): Entry<T> {
    if (at === head) return shift() as Entry<T>;
    const [entry] = entries.splice(at, 1) as [Entry<T>];
    weight -= entry.weight;
    return entry;
  }

  function next(signal?: AbortSignal): Promise<IteratorResult<T, undefined>> {
    const entry = shift();
    if (entry !== undefined) return Promise.resolve({ done: false, value: entry.item });
    if (closed) return Promise.resolve(DONE);
    return waiters.wait(signal);
  }

  return {
    push(item) {
      if (closed) return false;
      const itemWeight = weighChecked(weigh, item);
      if (waiters.handTo(item)) return true;
      while (weight + itemWeight > capacity) {
        const at = oldestDroppable();
        if (at === -1) break;
        const dropped = removeAt(at);
        droppedItems++;
        droppedWeight += dropped.weight;
        onDrop?.(dropped.item, dropped.weight);
      }
      entries.push({ item, weight: itemWeight });
      weight += itemWeight;
      return true;
    },
    pushFront(item) {
      if (closed) return false;
      const itemWeight = weighChecked(weigh, item);
      if (waiters.handTo(item)) return true;
      const entry = { item, weight: itemWeight };
      if (head > 0) entries[--head] = entry;
      else entries.unshift(entry);
      weight += itemWeight;
      return true;
    },
    next,
    close() {
      if (closed) return;
      closed = true;
      // Waiters exist only while the queue is empty, so done is all they can get.
      waiters.endAll();
    },
    drain() {
      const items = entries.slice(head).map((entry) => entry.item);
      reset();
      return items;
    },
    clear() {
      const cleared = entries.length - head;
      reset();
      return cleared;
    },
    removeWhere(match) {
      const kept: Entry<T>[] = [];
      const removed: T[] = [];
      let keptWeight = 0;
      for (let at = head; at < entries.length; at++) {
        const entry = entries[at] as Entry<T>;
        if (match(entry.item)) {
          removed.push(entry.item);
        } else {
          kept.push(entry);
          keptWeight += entry.weight;
        }
      }
      if (removed.length > 0) {
        entries = kept;
        head = 0;
        weight = keptWeight;
      }
      return removed;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const result = await next();
        if (result.done === true) return;
        yield result.value;
      }
    },
    get size() {
      return entries.length - head;
    },
    get weight() {
      return weight;
    },
    get droppedItems() {
      return droppedItems;
    },
    get droppedWeight() {
      return droppedWeight;
    },
    get closed() {
      return closed;
    },
  };
}
