import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { createDropOldestQueue } from "../src/drop-oldest-queue.js";

interface Chunk {
  readonly id: number;
  readonly durationMs: number;
}

function chunkQueue(capacity = 100) {
  const drops: [number, number][] = [];
  const queue = createDropOldestQueue<Chunk>({
    capacity,
    weigh: (chunk) => chunk.durationMs,
    onDrop: (chunk, weight) => drops.push([chunk.id, weight]),
  });
  return { queue, drops };
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe("createDropOldestQueue", () => {
  it("delivers in FIFO order and ends after close once drained", async () => {
    const { queue } = chunkQueue();
    for (let id = 0; id < 5; id++) queue.push({ id, durationMs: 10 });
    queue.close();
    expect((await drain(queue)).map((chunk) => chunk.id)).toEqual([0, 1, 2, 3, 4]);
    expect(await queue.next()).toEqual({ done: true, value: undefined });
  });

  it("drops the oldest frames when the consumer is slow, counting them exactly", () => {
    const { queue, drops } = chunkQueue(100);
    for (let id = 0; id < 25; id++) {
      queue.push({ id, durationMs: 20 });
      expect(queue.weight).toBeLessThanOrEqual(100);
    }
    expect([queue.size, queue.weight]).toEqual([5, 100]);
    expect([queue.droppedItems, queue.droppedWeight]).toEqual([20, 400]);
    expect(drops.map(([id]) => id)).toEqual(Array.from({ length: 20 }, (_, id) => id));
  });

  it("drops only as many old items as the new one needs", async () => {
    const { queue, drops } = chunkQueue(100);
    queue.push({ id: 0, durationMs: 30 });
    queue.push({ id: 1, durationMs: 30 });
    queue.push({ id: 2, durationMs: 30 });
    queue.push({ id: 3, durationMs: 50 });
    expect(drops).toEqual([
      [0, 30],
      [1, 30],
    ]);
    expect([queue.size, queue.weight]).toEqual([2, 80]);
    queue.close();
    expect((await drain(queue)).map((chunk) => chunk.id)).toEqual([2, 3]);
  });

  it("accepts an item heavier than the capacity alone", async () => {
    const { queue } = chunkQueue(100);
    queue.push({ id: 0, durationMs: 40 });
    queue.push({ id: 1, durationMs: 40 });
    queue.push({ id: 2, durationMs: 250 });
    expect([queue.size, queue.weight, queue.droppedItems, queue.droppedWeight]).toEqual([
      1, 250, 2, 80,
    ]);
    queue.push({ id: 3, durationMs: 10 });
    expect([queue.size, queue.weight, queue.droppedItems]).toEqual([1, 10, 3]);
    expect((await queue.next()).value?.id).toBe(3);
  });

  it("wakes a waiting consumer on push, bypassing the queue", async () => {
    const { queue } = chunkQueue();
    const pending = queue.next();
    queue.push({ id: 7, durationMs: 10 });
    expect(queue.size).toBe(0);
    expect(await pending).toEqual({ done: false, value: { id: 7, durationMs: 10 } });
  });

  it("serves several waiting consumers in the order they asked", async () => {
    const { queue } = chunkQueue();
    const first = queue.next();
    const second = queue.next();
    queue.push({ id: 1, durationMs: 10 });
    queue.push({ id: 2, durationMs: 10 });
    expect([(await first).value?.id, (await second).value?.id]).toEqual([1, 2]);
  });

  it("wakes every waiter with done on close, and close is idempotent", async () => {
    const { queue } = chunkQueue();
    const waits = [queue.next(), queue.next()];
    const iteration = drain(queue);
    queue.close();
    queue.close();
    expect(await Promise.all(waits)).toEqual([
      { done: true, value: undefined },
      { done: true, value: undefined },
    ]);
    expect(await iteration).toEqual([]);
    expect(queue.closed).toBe(true);
  });

  it("refuses pushes after close without counting a drop", () => {
    const { queue } = chunkQueue();
    queue.close();
    expect(queue.push({ id: 1, durationMs: 10 })).toBe(false);
    expect([queue.size, queue.droppedItems]).toEqual([0, 0]);
  });

  it("withdraws an aborted waiter and its listener, so the next item stays queued", async () => {
    const { queue } = chunkQueue();
    const controller = new AbortController();
    const pending = queue.next(controller.signal);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    controller.abort(new Error("consumer left"));
    await expect(pending).rejects.toThrow("consumer left");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    queue.push({ id: 1, durationMs: 10 });
    expect(queue.size).toBe(1);
    expect((await queue.next()).value?.id).toBe(1);
  });

  it("removes the abort listener once a waiter is served", async () => {
    const { queue } = chunkQueue();
    const controller = new AbortController();
    for (let id = 0; id < 50; id++) {
      const pending = queue.next(controller.signal);
      queue.push({ id, durationMs: 1 });
      expect((await pending).value?.id).toBe(id);
    }
    queue.push({ id: 99, durationMs: 1 });
    await queue.next(controller.signal);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("rejects at once for an already aborted signal when empty, but still hands out items", async () => {
    const { queue } = chunkQueue();
    const signal = AbortSignal.abort(new Error("gone"));
    await expect(queue.next(signal)).rejects.toThrow("gone");
    queue.push({ id: 1, durationMs: 10 });
    expect((await queue.next(signal)).value?.id).toBe(1);
  });

  it("clears without counting drops", () => {
    const { queue } = chunkQueue();
    queue.push({ id: 1, durationMs: 10 });
    queue.push({ id: 2, durationMs: 10 });
    expect(queue.clear()).toBe(2);
    expect([queue.size, queue.weight, queue.droppedItems]).toEqual([0, 0, 0]);
  });

  it("stays bounded and in order through a long producer/consumer run", async () => {
    const { queue } = chunkQueue(50);
    const received: number[] = [];
    const consumer = (async () => {
      for await (const chunk of queue) received.push(chunk.id);
    })();
    for (let id = 0; id < 5_000; id++) {
      queue.push({ id, durationMs: 10 });
      expect(queue.size).toBeLessThanOrEqual(5);
      if (id % 7 === 0) await Promise.resolve();
    }
    queue.close();
    await consumer;
    expect(received.length + queue.droppedItems).toBe(5_000);
    expect(received).toEqual([...received].sort((a, b) => a - b));
    expect(received.at(-1)).toBe(4_999);
  });

  it("rejects bad capacities and weights", () => {
    expect(() => createDropOldestQueue({ capacity: 0, weigh: () => 1 })).toThrow(RangeError);
    expect(() => createDropOldestQueue({ capacity: Infinity, weigh: () => 1 })).toThrow(RangeError);
    const queue = createDropOldestQueue<number>({ capacity: 10, weigh: (n) => n });
    expect(() => queue.push(-1)).toThrow(RangeError);
    expect(() => queue.push(Number.NaN)).toThrow(RangeError);
    expect(queue.size).toBe(0);
  });

  it("drops the oldest beyond its bound, counts it, and hands items to a waiting reader", async () => {
    const queue = createDropOldestQueue<Chunk>({ capacity: 50, weigh: (c) => c.durationMs });
    for (let id = 0; id < 8; id++) queue.push({ id, durationMs: 10 });
    expect([queue.size, queue.weight, queue.droppedItems, queue.droppedWeight]).toEqual([
      5, 50, 3, 30,
    ]);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await queue.next()).value?.id);
    expect(ids).toEqual([3, 4, 5, 6, 7]);
    const waiting = queue.next();
    queue.push({ id: 9, durationMs: 10 });
    expect((await waiting).value?.id).toBe(9);
    const controller = new AbortController();
    const aborted = queue.next(controller.signal);
    controller.abort();
    await expect(aborted).rejects.toThrow();
    const pending = queue.next();
    queue.close();
    expect((await pending).value).toBeUndefined();
    expect(queue.push({ id: 10, durationMs: 10 })).toBe(false);
  });

  it("never drops the items keep protects, even when only they are left", () => {
    const drops: number[] = [];
    const queue = createDropOldestQueue<Chunk>({
      capacity: 30,
      weigh: (chunk) => chunk.durationMs,
      keep: (chunk) => chunk.durationMs === 0,
      onDrop: (chunk) => drops.push(chunk.id),
    });
    queue.push({ id: 0, durationMs: 0 });
    queue.push({ id: 1, durationMs: 20 });
    queue.push({ id: 2, durationMs: 0 });
    queue.push({ id: 3, durationMs: 20 });
    queue.push({ id: 4, durationMs: 20 });
    expect(drops).toEqual([1, 3]);
    expect(queue.drain().map((chunk) => chunk.id)).toEqual([0, 2, 4]);
    queue.push({ id: 5, durationMs: 0 });
    queue.push({ id: 6, durationMs: 50 });
    expect([queue.size, queue.weight, drops]).toEqual([2, 50, [1, 3]]);
    // Even an item of no weight makes room: the queue stays within its capacity.
    queue.push({ id: 7, durationMs: 0 });
    expect(drops).toEqual([1, 3, 6]);
    expect(queue.drain().map((chunk) => chunk.id)).toEqual([5, 7]);
  });

  it("puts pushFront items ahead of the queue without dropping, or hands them to a waiter", async () => {
    const { queue, drops } = chunkQueue(30);
    const waiting = queue.next();
    queue.pushFront({ id: 0, durationMs: 10 });
    expect((await waiting).value?.id).toBe(0);
    queue.push({ id: 1, durationMs: 10 });
    queue.push({ id: 2, durationMs: 20 });
    // Taking one moves the head on, so the first pushFront reuses its slot.
    expect((await queue.next()).value?.id).toBe(1);
    queue.push({ id: 3, durationMs: 10 });
    queue.pushFront({ id: 4, durationMs: 20 });
    queue.pushFront({ id: 5, durationMs: 20 });
    expect(drops).toEqual([]);
    expect([queue.size, queue.weight]).toEqual([4, 70]);
    expect(queue.drain().map((chunk) => chunk.id)).toEqual([5, 4, 2, 3]);
    queue.close();
    expect(queue.pushFront({ id: 6, durationMs: 0 })).toBe(false);
  });

  it("removes the items that match, in order, without counting drops", () => {
    const { queue } = chunkQueue();
    for (let id = 0; id < 6; id++) queue.push({ id, durationMs: id });
    expect(queue.removeWhere((chunk) => chunk.id % 2 === 1).map((chunk) => chunk.id)).toEqual([
      1, 3, 5,
    ]);
    expect(queue.removeWhere(() => false)).toEqual([]);
    expect([queue.size, queue.weight, queue.droppedItems]).toEqual([3, 6, 0]);
    expect(queue.drain().map((chunk) => chunk.id)).toEqual([0, 2, 4]);
  });

  it("ends at once, discarding what is queued, when cleared after close", async () => {
    const { queue } = chunkQueue();
    queue.push({ id: 1, durationMs: 10 });
    queue.close();
    queue.clear();
    expect(await queue.next()).toEqual({ done: true, value: undefined });
    expect([queue.size, queue.weight]).toEqual([0, 0]);
  });
});
