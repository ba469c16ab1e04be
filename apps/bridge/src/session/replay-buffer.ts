/** Something with a sequence number and a duration. */
export interface Sequenced {
  readonly sequence: number;
}

/** What a resume can replay. */
export interface Replay<T> {
  /** Items after the given sequence that are still held, in order. */
  readonly items: T[];
  /** Items after the given sequence that are no longer held (lost to the resume). */
  readonly missed: number;
}

/**
 * The most recent room audio sent to the cloud, kept for `capacityMs` so that a stream
 * that breaks and resumes gets what it lost in flight. Items arrive in sequence order.
 */
export class ReplayBuffer<T extends Sequenced> {
  private items: T[] = [];
  private head = 0;
  private weight = 0;

  constructor(
    private readonly capacityMs: number,
    private readonly weigh: (item: T) => number,
  ) {}

  /** Keeps `item`, dropping the oldest beyond the capacity. */
  add(item: T): void {
    if (this.capacityMs <= 0) return;
    this.items.push(item);
    this.weight += this.weigh(item);
    while (this.weight > this.capacityMs && this.head < this.items.length - 1) {
      const oldest = this.items[this.head++];
      if (oldest !== undefined) this.weight -= this.weigh(oldest);
    }
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** What came after `sequence`, given that `lastSequence` is the newest one produced. */
  after(sequence: number, lastSequence: number): Replay<T> {
    const held = this.items.slice(this.head).filter((item) => item.sequence > sequence);
    const firstHeld = held[0]?.sequence ?? lastSequence + 1;
    return { items: held, missed: Math.max(0, firstHeld - sequence - 1) };
  }

  /** Items held. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Forgets everything. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.weight = 0;
  }
}
