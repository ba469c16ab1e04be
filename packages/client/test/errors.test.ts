import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
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
