import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  boundedText,
  MAX_ID_BYTES,
  optionalId,
  optionalLiveKitUrl,
  requireId,
} from "../src/rpc/fields.js";

function refusal(run: () => unknown): ConnectError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }
  throw new Error("expected a refusal");
}

describe("request field checks", () => {
  it("accepts ordinary ids: emails, UUIDs, non-Latin text, emoji, up to the byte limit", () => {
    for (const id of [
      "user@example.com",
      "5f0c-41d2",
      "ユーザー",
      "😀🎧",
      "x".repeat(MAX_ID_BYTES),
    ]) {
      expect(requireId("user_id", id)).toBe(id);
    }
  });

  it.each([
    ["", "user_id is required"],
    ["x".repeat(MAX_ID_BYTES + 1), "user_id is 257 bytes long; at most 256 are accepted"],
    ["é".repeat(129), "user_id is 258 bytes long; at most 256 are accepted"],
    ["a\u0000b", "user_id contains the control character U+0000"],
    ["a\nb", "user_id contains the control character U+000A"],
    ["a\u0085", "user_id contains the control character U+0085"],
    ["a\ud800", "user_id is not well-formed Unicode (a lone surrogate)"],
    ["\udc00a", "user_id is not well-formed Unicode (a lone surrogate)"],
    ["a\ufffd", "user_id contains U+FFFD: the bytes sent were not valid UTF-8"],
  ])("refuses %j: %s", (id, message) => {
    const error = refusal(() => requireId("user_id", id));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(message);
  });

  it("lets optional ids be empty, and bounds free text", () => {
    expect(optionalId("request_id", "")).toBe("");
    expect(boundedText("reason", "x".repeat(10), 10)).toBe("x".repeat(10));
    expect(refusal(() => boundedText("reason", "x".repeat(11), 10)).rawMessage).toBe(
      "reason is 11 bytes long; at most 10 are accepted",
    );
  });

  it("takes ws, wss, http and https LiveKit URLs, or none", () => {
    for (const url of [
      "",
      "ws://10.0.0.1:7880",
      "wss://lk.example.com",
      "https://lk.example.com/x",
    ]) {
      expect(optionalLiveKitUrl("livekit_url", url)).toBe(url);
    }
    expect(refusal(() => optionalLiveKitUrl("livekit_url", "ftp://x")).rawMessage).toBe(
      "livekit_url must be a ws://, wss://, http:// or https:// URL, got ftp:",
    );
    expect(refusal(() => optionalLiveKitUrl("livekit_url", "not a url")).rawMessage).toBe(
      'livekit_url is not a URL: "not a url"',
    );
  });

  it("never throws anything but InvalidArgument, for any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (value) => {
        try {
          requireId("user_id", value);
          optionalLiveKitUrl("livekit_url", value);
        } catch (error) {
          return error instanceof ConnectError && error.code === Code.InvalidArgument;
        }
        return true;
      }),
      { numRuns: 2_000 },
    );
  });
});
