import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createJoinGate, joinsInFlightFor } from "../src/security/join-limits.js";

const codeOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof ConnectError ? error.code : error;
  }
};

describe("the join gate", () => {
  it("lets half the cores connect at once by default (MAX_JOINS_IN_FLIGHT 0), at least one", () => {
    expect([1, 2, 3, 4, 8, 16].map((cores) => joinsInFlightFor(cores))).toEqual([1, 1, 1, 2, 4, 8]);
  });

  it("runs at most maxInFlight at once and hands slots on first come, first served", async () => {
    const gate = createJoinGate({ maxInFlight: 2, queueMax: 10, queueTimeoutMs: 5_000 });
    const first = await gate.acquire();
    const second = await gate.acquire();
    const order: number[] = [];
    const third = gate.acquire().then((release) => {
      order.push(3);
      return release;
    });
    const fourth = gate.acquire().then((release) => {
      order.push(4);
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(gate.counts()).toEqual({ inFlight: 2, queued: 2, refused: 0 });
    first();
    first(); // idempotent: frees one slot only
    expect((await third) !== undefined).toBe(true);
    expect(gate.counts()).toEqual({ inFlight: 2, queued: 1, refused: 0 });
    second();
    (await fourth)();
    (await third)();
    expect(order).toEqual([3, 4]);
    expect(gate.counts()).toEqual({ inFlight: 0, queued: 0, refused: 0 });
  });

  it("refuses past the queue (ResourceExhausted) and past the wait (Unavailable)", async () => {
    const gate = createJoinGate({ maxInFlight: 1, queueMax: 1, queueTimeoutMs: 100 });
    const held = await gate.acquire();
    const started = performance.now();
    const waiting = gate.acquire();
    expect(await codeOf(gate.acquire())).toBe(Code.ResourceExhausted);
    expect(await codeOf(waiting)).toBe(Code.Unavailable);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    expect(gate.counts()).toEqual({ inFlight: 1, queued: 0, refused: 2 });
    held();
    expect(gate.counts().inFlight).toBe(0);
  });
});
