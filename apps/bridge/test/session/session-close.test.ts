import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DisconnectKind } from "../../src/livekit/index.js";
import { createFakeConnector, type FakeLink } from "./fake-room-link.js";
import { describeEnd, openFakeSession } from "./session-harness.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Session.close", () => {
  it.each<[DisconnectKind, string | undefined, string]>([
    ["left", undefined, "OK"],
    ["replaced", "the session of user user-1 was replaced by a new JoinRoom; because", "Aborted"],
    [
      "duplicate_identity",
      "another participant joined room room-1 with the bridge's identity (duplicate identity): another instance owns user user-1 now; because",
      "Aborted",
    ],
    [
      "server_shutdown",
      "lost room room-1 for user user-1: server_shutdown; because",
      "Unavailable",
    ],
    ["network", "lost room room-1 for user user-1: network; because", "Unavailable"],
    ["token_expired", "lost room room-1 for user user-1: token_expired; because", "Unavailable"],
    ["room_deleted", "lost room room-1 for user user-1: room_deleted; because", "Unavailable"],
    ["removed", "lost room room-1 for user user-1: removed; because", "Unavailable"],
  ])(
    "closing with %s ends the stream as the cloud expects and releases everything",
    async (kind, message, code) => {
      const { session, connector, closed } = await openFakeSession({ publishAtJoin: [0] });
      const stream = session.attachStream({ onEvent: () => {} });
      const pending = stream.next();
      await session.close(kind, "because");
      expect(stream.signal.aborted).toBe(true);
      // OK: a plain abort, which the handlers end the call cleanly on.
      if (message === undefined) expect(stream.signal.reason).toMatchObject({ name: "AbortError" });
      else expect(describeEnd(stream.signal.reason)).toEqual({ message, code });
      await expect(pending).rejects.toBe(stream.signal.reason);
      expect(connector.link.closed).toBe(true);
      expect(connector.link.tracks.every((t) => t.closed)).toBe(true);
      expect(closed).toEqual([session]);
      expect(session.closedBecause).toBe(kind);
      const status = session.status();
      expect(status.connected).toBe(false);
      expect(status.lastDisconnect?.disconnect.kind).toBe(kind);
      expect(session.openResources()).toBe(0);
    },
  );

  it("is idempotent: a second close changes nothing and onClosed runs once", async () => {
    const { session, closed } = await openFakeSession();
    const first = session.close("left", "one");
    const second = session.close("network", "two");
    expect(second).toBe(first);
    await second;
    expect(closed).toEqual([session]);
    expect(session.closedBecause).toBe("left");
  });

  it("after close, writes and playbacks are refused with the reason", async () => {
    const { session } = await openFakeSession();
    await session.close("removed");
    await expect(session.writeAudio(1, new Int16Array(48), 48_000, 1)).rejects.toMatchObject({
      kind: "room_lost",
      message: "user user-1 is not in room room-1 (removed); call JoinRoom again",
    });
    expect(() =>
      session.play(
        { requestId: "r", url: new URL("http://x/a.wav"), volume: 0, trackId: 1 },
        false,
      ),
    ).toThrow("the session of user user-1 is closing");
  });

  it("a join whose early publish fails leaves the room and rejects", async () => {
    const links: FakeLink[] = [];
    const fake = createFakeConnector();
    const connect: typeof fake.connect = async (options) => {
      const link = (await fake.connect(options)) as FakeLink;
      links.push(link);
      return { ...link, publishTrack: () => Promise.reject(new Error("no publish")) };
    };
    await expect(openFakeSession({ publishAtJoin: [1], connect })).rejects.toThrow("no publish");
    expect(links.map((link) => link.closed)).toEqual([true]);
  });
});
