import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { callerOfSocket, isLoopbackAddress, markUnixSocket } from "../src/security/caller.js";
import {
  checkCallerMayMint,
  createMintPolicy,
  livekitServerOf,
} from "../src/security/mint-policy.js";

function codeOf(run: () => void): Code | "allowed" {
  try {
    run();
    return "allowed";
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

describe("where a minted token may go", () => {
  const policy = createMintPolicy({
    configuredUrl: "ws://livekit:7880",
    allowlist: ["wss://lk2.example.com"],
  });

  it.each([
    ["", "allowed"],
    ["ws://livekit:7880", "allowed"],
    ["http://LIVEKIT:7880/rtc", "allowed"],
    ["wss://lk2.example.com", "allowed"],
    ["https://lk2.example.com:443/", "allowed"],
    ["ws://livekit:7881", Code.PermissionDenied],
    ["wss://livekit:7880", Code.PermissionDenied],
    ["ws://livekit:7880@evil.test", Code.PermissionDenied],
    ["ws://lk2.example.com", Code.PermissionDenied],
    ["ws://evil.test/livekit:7880", Code.PermissionDenied],
  ])("%s: %s", (url, expected) => {
    expect(codeOf(() => policy.checkTarget(url))).toBe(expected);
  });

  it("compares servers, not spellings", () => {
    expect(livekitServerOf("ws://h")).toBe("http://h:80");
    expect(livekitServerOf("wss://h/x")).toBe("https://h:443");
    expect(livekitServerOf("ftp://h")).toBeUndefined();
  });
});

describe("who may have a token minted", () => {
  it("tells loopback, the Unix socket and everyone else apart", () => {
    expect(["127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1"].every(isLoopbackAddress)).toBe(
      true,
    );
    expect(["10.0.0.1", "::ffff:10.0.0.1", "::", "128.0.0.1"].some(isLoopbackAddress)).toBe(false);
    expect(callerOfSocket({ remoteAddress: "192.0.2.9" })).toEqual({
      local: false,
      address: "192.0.2.9",
    });
    // A TCP socket without a peer address is already gone: nobody to trust.
    expect(callerOfSocket({ remoteAddress: undefined }).local).toBe(false);
    const unix = { remoteAddress: undefined };
    markUnixSocket(unix as never);
    expect(callerOfSocket(unix)).toEqual({ local: true, address: "unix socket" });
  });

  it("refuses only a remote caller without the API key", () => {
    const remote = { local: false, authenticated: false, address: "192.0.2.9" };
    expect(codeOf(() => checkCallerMayMint(remote))).toBe(Code.PermissionDenied);
    expect(codeOf(() => checkCallerMayMint({ ...remote, authenticated: true }))).toBe("allowed");
    expect(codeOf(() => checkCallerMayMint({ ...remote, local: true }))).toBe("allowed");
  });
});
