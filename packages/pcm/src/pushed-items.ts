/** Options of {@link createPushedItems}. */
export interface PushedItemsOptions<T> {
  /** At most this many unread items; a push beyond it drops the oldest. Default: unbounded. */
  readonly limit?: number;
  /** True when `next` replaces the unread `tail` instead of queueing after it. */
  readonly replaces?: (tail: T, next: T) => boolean;
}

/**
 * Items pushed by a producer and read in order by `for await`; the reader waits while
 * none is queued and ends once the producer closes and the queue is read.
 */
export interface PushedItems<T> extends AsyncIterable<T> {
  /** Queues `item` and wakes the reader; ignored once closed. */
  push(item: T): void;
  /** No more items: the reader gets those queued, then the end. */
  close(): void;
  readonly closed: boolean;
}

/** Creates an empty {@link PushedItems}. */
export function createPushedItems<T>(options: PushedItemsOptions<T> = {}): PushedItems<T> {
  const queue: T[] = [];
  const wakers = new Set<() => void>();
  let closed = false;
  const wakeAll = (): void => {
    for (const wake of wakers) wake();
    wakers.clear();
  };
  return {
    push(item) {
      if (closed) return;
      const tail = queue.at(-1);
      if (tail !== undefined && options.replaces?.(tail, item)) queue[queue.length - 1] = item;
      else queue.push(item);
      if (options.limit !== undefined && queue.length > options.limit) queue.shift();
      wakeAll();
    },
    close() {
      closed = true;
      wakeAll();
    },
    get closed() {
      return closed;
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length > 0) {
          yield queue.shift() as T;
          continue;
        }
        if (closed) return;
        await new Promise<void>((resolve) => wakers.add(resolve));
      }
    },
  };
}
