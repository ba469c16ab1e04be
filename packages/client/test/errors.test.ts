import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BoundedAudioQueue } from "../src/bounded-audio-queue.js";
import { BridgeError, backoffDelay, toBridgeError } from "../src/index.js";

describe("toBridgeError", () => {
  it.each([
    [Code.InvalidArgument, "bad", "invalid-argument", false],
    [Code.FailedPrecondition, "no session for user u1: call JoinRoom first", "no-session", true],
    [Code.Aborted, "… (duplicate identity) …", "identity-taken", false],
    [Code.Aborted, "replaced by a newer StreamAudio stream", "replaced", false],
    [Code.Aborted, "read ECONNRESET", "unavailable", true],
    [Code.Unavailable, "lost room", "unavailable", true],
    [Code.DeadlineExceeded, "slow", "unavailable", true],
    [Code.Unauthenticated, "who", "unauthenticated", false],
    [Code.PermissionDenied, "no", "unauthenticated", false],
    [Code.Canceled, "bye", "cancelled", false],
    [Code.Internal, "boom", "internal", true],
    [Code.Unknown, "?", "internal", true],
  ] as const)("maps %s (%s) to %s", (code, message, kind, retryable) => {
    const error = toBridgeError(new ConnectError(message, code));
    expect(error).toBeInstanceOf(BridgeError);
    expect([error.kind, error.code, error.message, error.retryable]).toEqual([
      kind,
      code,
      message,
      retryable,
    ]);
  });

  it("maps an abort to cancelled and keeps a BridgeError as it is", () => {
    const abort = new DOMException("The operation was aborted.", "AbortError");
    expect(toBridgeError(abort).kind).toBe("cancelled");
    const own = new BridgeError("closed", "left");
    expect(toBridgeError(own)).toBe(own);
  });
});

describe("backoffDelay", () => {
  it("doubles its ceiling from 300 ms up to the 1.5 s cap, with full jitter", () => {
    const top = { random: () => 0.999_999 };
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, top))).toEqual([
      299, 599, 1_199, 1_499, 1_499, 1_499, 1_499,
    ]);
    expect(backoffDelay(3, { random: () => 0 })).toBe(0);
    expect(backoffDelay(2, { initialMs: 100, maxMs: 250, random: () => 0.999_999 })).toBe(249);
    expect(backoffDelay(9, { maxMs: 5_000, random: () => 0.999_999 })).toBe(4_999);
    for (let i = 0; i < 100; i++) expect(backoffDelay(0)).toBeLessThanOrEqual(300);
  });
});

describe("BoundedAudioQueue", () => {
  it("drops the oldest beyond its bound, counts it, and hands items to a waiting reader", async () => {
    const queue = new BoundedAudioQueue<{ id: number; durationMs: number }>(50);
    for (let id = 0; id < 8; id++) queue.push({ id, durationMs: 10 });
    expect([queue.size, queue.durationMs, queue.droppedItems, queue.droppedMs]).toEqual([
      5, 50, 3, 30,
    ]);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await queue.next())?.id);
    expect(ids).toEqual([3, 4, 5, 6, 7]);
    const waiting = queue.next();
    queue.push({ id: 9, durationMs: 10 });
    expect((await waiting)?.id).toBe(9);
    const controller = new AbortController();
    const aborted = queue.next(controller.signal);
    controller.abort();
    expect(await aborted).toBeUndefined();
    const pending = queue.next();
    queue.close();
    expect(await pending).toBeUndefined();
    expect(queue.push({ id: 10, durationMs: 10 })).toBe(false);
  });
});
