import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DisconnectKind } from "../../src/livekit/index.js";
import { describeEnd, openFakeSession, tokenExpiringAt } from "./session-harness.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Session rejoin decisions", () => {
  it.each<DisconnectKind>(["network", "server_shutdown", "token_expired"])(
    "rejoins after a recoverable loss (%s) with a fresh minted token",
    async (kind) => {
      const { session, connector, closed } = await openFakeSession();
      const stream = session.attachStream();
      connector.link.lose({ kind, sdkReason: "SDK" });
      expect(stream.signal.aborted).toBe(true);
      expect(describeEnd(stream.signal.reason)).toEqual({
        message: `lost room room-1 for user user-1: ${kind}; rejoining`,
        code: "Unavailable",
      });
      await vi.advanceTimersByTimeAsync(0);
      expect(connector.calls).toBe(2);
      expect(session.closed).toBe(false);
      expect(closed).toEqual([]);
      const status = session.status();
      expect(status.connected).toBe(true);
      expect(status.participantId).toBe("PA_1");
      expect(status.lastDisconnect?.disconnect.kind).toBe(kind);
      expect(status.metadata.rejoins).toBe("1");
      expect(status.metadata.last_disconnect_sdk_reason).toBe("SDK");
      await session.close("left");
    },
  );

  it.each<[DisconnectKind, string, string]>([
    [
      "duplicate_identity",
      "another participant joined room room-1 with the bridge's identity (duplicate identity): another instance owns user user-1 now",
      "Aborted",
    ],
    ["room_deleted", "lost room room-1 for user user-1: room_deleted", "Unavailable"],
    ["removed", "lost room room-1 for user user-1: removed", "Unavailable"],
    ["left", "the session of user user-1 ended", "Canceled"],
  ])("closes without rejoining after %s", async (kind, message, code) => {
    const { session, connector, closed } = await openFakeSession();
    const stream = session.attachStream();
    connector.link.lose({ kind, sdkReason: "SDK" });
    expect(describeEnd(stream.signal.reason)).toEqual({ message, code });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(connector.calls).toBe(1);
    expect(closed).toEqual([session]);
    expect(session.closedBecause).toBe(kind);
    expect(session.status().lastDisconnect?.disconnect.kind).toBe(kind);
    expect(session.openResources()).toBe(0);
  });

  it("reports an expired cloud token as token_expired and does not rejoin with it", async () => {
    const token = tokenExpiringAt(Date.now() + 5_000);
    const { session, connector, closed } = await openFakeSession({
      tokens: { kind: "given", token },
    });
    const stream = session.attachStream();
    vi.setSystemTime(Date.now() + 6_000);
    connector.link.lose({ kind: "network", sdkReason: "SIGNAL_CLOSE" });
    expect(describeEnd(stream.signal.reason)).toEqual({
      message:
        "lost room room-1 for user user-1: token_expired; network; the token has expired, call JoinRoom with a fresh one",
      code: "Unavailable",
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(connector.calls).toBe(1);
    expect(closed).toEqual([session]);
    expect(session.closedBecause).toBe("token_expired");
  });

  it("rejoins with a cloud token that has not expired", async () => {
    const token = tokenExpiringAt(Date.now() + 60_000);
    const { session, connector } = await openFakeSession({ tokens: { kind: "given", token } });
    connector.link.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(0);
    expect(connector.tokens).toEqual([token, token]);
    expect(session.status().connected).toBe(true);
    await session.close("left");
  });

  it("backs off 0, 250, 500, 1000, 2000, 4000 ms, then closes with the loss's kind", async () => {
    const { session, connector, closed } = await openFakeSession();
    connector.failNext(6);
    connector.link.lose({ kind: "server_shutdown", sdkReason: "" });
    const callsAt: number[] = [];
    for (const wait of [0, 249, 1, 499, 1, 999, 1, 1_999, 1, 3_999, 1]) {
      await vi.advanceTimersByTimeAsync(wait);
      callsAt.push(connector.calls);
    }
    expect(callsAt).toEqual([2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7]);
    expect(closed).toEqual([session]);
    expect(session.closedBecause).toBe("server_shutdown");
    expect(session.status().metadata.rejoins).toBe("6");
    expect(session.openResources()).toBe(0);
  });

  it("keeps the session when a later attempt succeeds", async () => {
    const { session, connector, closed } = await openFakeSession();
    connector.failNext(2);
    connector.link.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(750);
    expect(connector.calls).toBe(4);
    expect(closed).toEqual([]);
    expect(session.status().connected).toBe(true);
    await session.close("left");
  });

  it("writes wait for a rejoin in progress and go to the new link", async () => {
    const { session, connector } = await openFakeSession();
    connector.failNext(1);
    connector.link.lose({ kind: "network", sdkReason: "" });
    const written = session.writeAudio(1, new Int16Array(480), 48_000, 1);
    await vi.advanceTimersByTimeAsync(250);
    await written;
    expect(connector.links).toHaveLength(2);
    expect(connector.links[0]?.tracks).toHaveLength(0);
    expect(connector.link.tracks.map((t) => t.writtenMs())).toEqual([10]);
    await session.close("left");
  });

  it("a session closed while rejoining leaves the late link again", async () => {
    const { session, connector } = await openFakeSession();
    connector.failNext(1);
    connector.link.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(0);
    await session.close("left");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(connector.calls).toBe(2);
    expect(session.openResources()).toBe(0);
  });
});
