import { Code, ConnectError } from "@connectrpc/connect";
import { BridgeErrorDetailSchema } from "@mentra/bridge-proto";
import { describe, expect, it } from "vitest";
import { BridgeError, BridgeErrorReason, backoffDelay, toBridgeError } from "../src/index.js";

describe("toBridgeError", () => {
  const R = BridgeErrorReason;
  /** A ConnectError as the bridge sends it: with its reason as an error detail. */
  const fromBridge = (message: string, code: Code, reason: BridgeErrorReason) =>
    new ConnectError(message, code, undefined, [
      { desc: BridgeErrorDetailSchema, value: { reason, userId: "u1" } },
    ]);

  it.each([
    [Code.InvalidArgument, "bad", R.INVALID_ARGUMENT, "invalid-argument", false],
    [Code.FailedPrecondition, "no session for user u1", R.NO_SESSION, "no-session", true],
    [Code.FailedPrecondition, "closing", R.SESSION_CLOSING, "no-session", true],
    // Aborted means several things: the reason says which, whatever the message says.
    [Code.Aborted, "another bridge joined", R.DUPLICATE_IDENTITY, "identity-taken", false],
    [Code.Aborted, "… (duplicate identity) …", R.REPLACED, "replaced", false],
    [Code.Unavailable, "lost room", R.ROOM_LOST, "unavailable", true],
    [Code.Unavailable, "token expired", R.TOKEN_EXPIRED, "unavailable", true],
    [Code.Unavailable, "draining", R.DRAINING, "unavailable", true],
    [Code.ResourceExhausted, "full", R.LIMIT_REACHED, "unavailable", true],
    [Code.Unauthenticated, "who", R.UNAUTHENTICATED, "unauthenticated", false],
    [Code.PermissionDenied, "no", R.PERMISSION_DENIED, "unauthenticated", false],
    [Code.Canceled, "ended", R.SESSION_ENDED, "cancelled", false],
    [Code.Internal, "boom", R.INTERNAL, "internal", true],
  ] as const)("maps %s (%s) with reason %s to %s", (code, message, reason, kind, retryable) => {
    const error = toBridgeError(fromBridge(message, code, reason));
    expect(error).toBeInstanceOf(BridgeError);
    expect([error.kind, error.code, error.reason, error.message, error.retryable]).toEqual([
      kind,
      code,
      reason,
      message,
      retryable,
    ]);
  });

  it.each([
    [Code.InvalidArgument, "bad", "invalid-argument", false],
    [Code.FailedPrecondition, "no session for user u1: call JoinRoom first", "no-session", true],
    // No reason: not read from the message; Node reports a connection reset as Aborted.
    [Code.Aborted, "… (duplicate identity) …", "unavailable", true],
    [Code.Aborted, "read ECONNRESET", "unavailable", true],
    [Code.Unavailable, "lost room", "unavailable", true],
    [Code.DeadlineExceeded, "slow", "unavailable", true],
    [Code.Unauthenticated, "who", "unauthenticated", false],
    [Code.PermissionDenied, "no", "unauthenticated", false],
    [Code.Canceled, "bye", "cancelled", false],
    [Code.Internal, "boom", "internal", true],
    [Code.Unknown, "?", "internal", true],
  ] as const)("maps %s (%s) without a reason to %s", (code, message, kind, retryable) => {
    const error = toBridgeError(new ConnectError(message, code));
    expect(error).toBeInstanceOf(BridgeError);
    expect([error.kind, error.code, error.reason, error.message, error.retryable]).toEqual([
      kind,
      code,
      BridgeErrorReason.UNSPECIFIED,
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
