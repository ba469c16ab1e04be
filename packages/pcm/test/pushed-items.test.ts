import { describe, expect, it } from "vitest";
import { createPushedItems } from "../src/pushed-items.js";

async function readAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const read: T[] = [];
  for await (const item of items) read.push(item);
  return read;
}

describe("createPushedItems", () => {
  it("hands items pushed before and while the reader waits, in order, then ends on close", async () => {
    const items = createPushedItems<number>();
    items.push(1);
    const reading = readAll(items);
    await new Promise((resolve) => setTimeout(resolve, 5));
    items.push(2);
    items.push(3);
    items.close();
    items.push(4);
    expect(await reading).toEqual([1, 2, 3]);
    expect(items.closed).toBe(true);
  });

  it("keeps only the newest `limit` unread items", async () => {
    const items = createPushedItems<number>({ limit: 3 });
    for (let n = 1; n <= 10; n += 1) items.push(n);
    items.close();
    expect(await readAll(items)).toEqual([8, 9, 10]);
  });

  it("replaces the unread tail when `replaces` says so, and only the tail", async () => {
    const items = createPushedItems<string>({
      replaces: (tail, next) => tail[0] === "p" && next[0] === "p",
    });
    for (const item of ["s", "p1", "p2", "p3", "x", "p4", "p5", "e"]) items.push(item);
    items.close();
    expect(await readAll(items)).toEqual(["s", "p3", "x", "p5", "e"]);
  });

  it("wakes every waiting reader, and a reader after the end gets nothing", async () => {
    const items = createPushedItems<number>();
    const first = readAll(items);
    const second = readAll(items);
    await new Promise((resolve) => setTimeout(resolve, 5));
    items.push(7);
    items.close();
    const got = [...(await first), ...(await second)];
    expect(got).toEqual([7]);
    expect(await readAll(items)).toEqual([]);
  });
});
