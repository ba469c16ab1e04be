/** A minimal typed event hub whose listeners are all dropped on close. */
// biome-ignore lint/suspicious/noExplicitAny: listener parameter types vary per event
export class Listeners<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  private readonly map = new Map<keyof Events, Set<(...args: never[]) => void>>();

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.map.get(event);
    if (set === undefined) {
      set = new Set();
      this.map.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener. */
  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    const set = this.map.get(event);
    set?.delete(listener);
    if (set?.size === 0) this.map.delete(event);
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.map.get(event) ?? [])]) {
      try {
        (listener as unknown as (...a: Parameters<Events[K]>) => void)(...args);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** Listeners registered now, over all events (0 after clear()). */
  count(): number {
    let total = 0;
    for (const set of this.map.values()) total += set.size;
    return total;
  }

  /** Removes every listener. */
  clear(): void {
    this.map.clear();
  }
}
