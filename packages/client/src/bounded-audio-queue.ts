/** Something with a duration, queued until it can be delivered. */
export interface Timed {
  /** Duration in milliseconds. */
  readonly durationMs: number;
}

/**
 * A FIFO bounded by total duration: pushing beyond `capacityMs` drops the oldest items
 * and counts them; items of no duration (marks, clears) are never dropped. Pull with
 * `next()`, which waits; `close()` ends waiting pulls.
 */
export class BoundedAudioQueue<T extends Timed> {
  private readonly items: T[] = [];
  private queuedMs = 0;
  private waiter: ((item: T | undefined) => void) | undefined;
  private isClosed = false;
  /** Items dropped to stay within the bound. */
  droppedItems = 0;
  /** Milliseconds of audio dropped to stay within the bound. */
  droppedMs = 0;

  constructor(private readonly capacityMs: number) {}

  /** Milliseconds of audio waiting. */
  get durationMs(): number {
    return this.queuedMs;
  }

  /** Items waiting. */
  get size(): number {
    return this.items.length;
  }

  /** Adds an item (dropping the oldest beyond the bound); false once closed. */
  push(item: T): boolean {
    if (this.isClosed) return false;
    if (this.handToWaiter(item)) return true;
    this.items.push(item);
    this.queuedMs += item.durationMs;
    while (this.queuedMs > this.capacityMs) {
      const oldest = this.items.findIndex((queued) => queued.durationMs > 0);
      if (oldest === -1 || oldest === this.items.length - 1) break;
      const [dropped] = this.items.splice(oldest, 1);
      if (dropped === undefined) break;
      this.queuedMs -= dropped.durationMs;
      this.droppedItems++;
      this.droppedMs += dropped.durationMs;
    }
    return true;
  }

  /** Adds an item ahead of everything queued (a clear must not wait behind audio). */
  pushFront(item: T): boolean {
    if (this.isClosed) return false;
    if (this.handToWaiter(item)) return true;
    this.items.unshift(item);
    this.queuedMs += item.durationMs;
    return true;
  }

  /** Gives `item` straight to a pull that is waiting, if there is one. */
  private handToWaiter(item: T): boolean {
    const waiter = this.waiter;
    if (waiter === undefined) return false;
    this.waiter = undefined;
    waiter(item);
    return true;
  }

  /** Removes and returns the queued items that match, in order (not counted as dropped). */
  removeWhere(match: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (let i = this.items.length - 1; i >= 0; i--) {
      const item = this.items[i];
      if (item !== undefined && match(item)) {
        this.items.splice(i, 1);
        this.queuedMs -= item.durationMs;
        removed.unshift(item);
      }
    }
    return removed;
  }

  /** The oldest item, waiting for one; undefined once closed (or aborted). */
  next(signal?: AbortSignal): Promise<T | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.queuedMs -= item.durationMs;
      return Promise.resolve(item);
    }
    if (this.isClosed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const onAbort = () => {
        if (this.waiter === settle) this.waiter = undefined;
        resolve(undefined);
      };
      const settle = (value: T | undefined) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      };
      this.waiter?.(undefined);
      this.waiter = settle;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Ends the queue: waiting pulls get undefined; queued items are discarded. */
  close(): void {
    this.isClosed = true;
    this.items.length = 0;
    this.queuedMs = 0;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined);
  }
}
