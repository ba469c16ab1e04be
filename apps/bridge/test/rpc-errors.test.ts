import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { PcmFormatError } from "../src/audio/pcm.js";
import { AudioUrlError } from "../src/playback/url-policy.js";
import { mapStreamErrors, mapUnaryErrors, toConnectError } from "../src/rpc/errors.js";
import {
  noSession,
  notInRoom,
  replacedByNewerStream,
  SessionError,
  type SessionErrorKind,
  sessionClosing,
  shuttingDown,
  streamEnded,
} from "../src/session/session-errors.js";

describe("toConnectError", () => {
  it.each<[SessionErrorKind, Code]>([
    ["duplicate_identity", Code.Aborted],
    ["replaced", Code.Aborted],
    ["ended", Code.Canceled],
    ["room_lost", Code.Unavailable],
    ["token_expired", Code.Unavailable],
    ["closing", Code.FailedPrecondition],
    ["no_session", Code.FailedPrecondition],
    ["draining", Code.Unavailable],
  ])("gives a %s session error the code %s and keeps its message", (kind, code) => {
    const error = toConnectError(new SessionError(kind, `what happened to ${kind}`));
    expect(error.code).toBe(code);
    expect(error.rawMessage).toBe(`what happened to ${kind}`);
  });

  it("keeps the deployed codes of the session's own errors", () => {
    const cases: [SessionError, Code][] = [
      [noSession("u"), Code.FailedPrecondition],
      [sessionClosing("u"), Code.FailedPrecondition],
      [shuttingDown(), Code.Unavailable],
      [replacedByNewerStream("u"), Code.Aborted],
      [notInRoom("u", "r", "network"), Code.Unavailable],
      [streamEnded("u", "r", "duplicate_identity", ""), Code.Aborted],
      [streamEnded("u", "r", "replaced", ""), Code.Aborted],
      [streamEnded("u", "r", "left", ""), Code.Canceled],
      [streamEnded("u", "r", "token_expired", ""), Code.Unavailable],
      [streamEnded("u", "r", "room_deleted", ""), Code.Unavailable],
    ];
    expect(cases.map(([error]) => Code[toConnectError(error).code])).toEqual(
      cases.map(([, code]) => Code[code]),
    );
    expect(noSession("u").message).toBe("no session for user u: call JoinRoom first");
  });

  it("makes malformed audio and URLs InvalidArgument, passes a ConnectError through", () => {
    expect(toConnectError(new PcmFormatError("track_id", "track_id 9 is out of range")).code).toBe(
      Code.InvalidArgument,
    );
    expect(toConnectError(new AudioUrlError("audio_url is not a URL")).rawMessage).toBe(
      "audio_url is not a URL",
    );
    const connect = new ConnectError("denied", Code.PermissionDenied);
    expect(toConnectError(connect)).toBe(connect);
    expect(toConnectError(new Error("boom")).code).toBe(Code.Unknown);
  });

  it("maps what unary and streaming handlers throw", async () => {
    const unary = mapUnaryErrors(async (_: unknown, __: unknown) => {
      throw noSession("u");
    });
    await expect(unary(undefined, undefined)).rejects.toMatchObject({
      code: Code.FailedPrecondition,
    });
    const stream = mapStreamErrors(async function* (_: unknown, __: unknown) {
      yield 1;
      throw notInRoom("u", "r", "removed");
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const value of stream(undefined, undefined)) seen.push(value);
      })(),
    ).rejects.toMatchObject({ code: Code.Unavailable });
    expect(seen).toEqual([1]);
  });
});
