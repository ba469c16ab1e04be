/** A consumer waiting in {@link Waiters.wait}. */
interface Waiter<T> {
  readonly resolve: (result: IteratorResult<T, undefined>) => void;
}

/** The iterator result that ends a stream. */
export const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * The consumers waiting for an item of an empty queue, served in the order they asked. A
 * wait withdrawn by its abort signal leaves the line, so no item is handed to a consumer
 * that left.
 */
export interface Waiters<T> {
  /** Waits for the next item handed out, rejecting with `signal`'s reason if it aborts. */
  wait(signal?: AbortSignal): Promise<IteratorResult<T, undefined>>;
  /** Gives `item` straight to the longest-waiting consumer; false if none waits. */
  handTo(item: T): boolean;
  /** Resolves every waiting consumer with done, and empties the line. */
  endAll(): void;
}

/** Creates an empty line of {@link Waiters}. */
export function createWaiters<T>(): Waiters<T> {
  const waiters = new Set<Waiter<T>>();
  return {
    wait(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          waiters.delete(waiter);
          reject(signal?.reason);
        };
        const waiter: Waiter<T> = {
          resolve(result) {
            signal?.removeEventListener("abort", onAbort);
            resolve(result);
          },
        };
        waiters.add(waiter);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    },
    handTo(item) {
      for (const waiter of waiters) {
        waiters.delete(waiter);
        waiter.resolve({ done: false, value: item });
        return true;
      }
      return false;
    },
    endAll() {
      for (const waiter of waiters) waiter.resolve(DONE);
      waiters.clear();
    },
  };
}
