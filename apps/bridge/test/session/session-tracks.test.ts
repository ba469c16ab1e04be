import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SessionEvent } from "../../src/session/session-events.js";
import { openFakeSession } from "./session-harness.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** `ms` of 48 kHz mono cloud audio. */
const cloud = (ms: number) => new Int16Array(48 * ms);

async function withEvents() {
  const opened = await openFakeSession();
  const events: SessionEvent[] = [];
  const stream = opened.session.attachStream({
    onEvent: (event) => events.push(event),
    statsIntervalMs: 0,
  });
  return { ...opened, events, stream };
}

describe("Session tracks and marks", () => {
  it("reports a mark once the audio before it has played out, at its position", async () => {
    const { session, connector, events } = await withEvents();
    await session.writeAudio(1, cloud(100), 48_000, 1);
    session.mark(1, "end");
    const track = connector.link.tracks[0];
    expect(track?.options.name).toBe("app_audio");
    track?.play(99);
    await vi.advanceTimersByTimeAsync(20);
    expect(events).toEqual([]);
    track?.play(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(events).toEqual([{ type: "mark_played", trackId: 1, name: "end", positionMs: 100 }]);
    await session.close("left");
  });

  it("reports a mark on a track with nothing written at once", async () => {
    const { session, events } = await withEvents();
    session.mark(3, "nothing");
    expect(events).toEqual([{ type: "mark_played", trackId: 3, name: "nothing", positionMs: 0 }]);
    await session.close("left");
  });

  it("a clear drops the unplayed audio and its marks and says how much was heard", async () => {
    const { session, connector, events } = await withEvents();
    await session.writeAudio(1, cloud(300), 48_000, 1);
    session.mark(1, "a");
    connector.link.tracks[0]?.play(120);
    expect(session.clear(1)).toEqual({
      type: "cleared",
      trackId: 1,
      playedMs: 120,
      droppedMs: 180,
      marksDropped: ["a"],
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(events).toEqual([]);
    await session.close("left");
  });

  it("reports the tracks' underruns in GetStatus, those of a lost room's tracks too", async () => {
    const { session, connector } = await openFakeSession();
    await session.writeAudio(1, cloud(40), 48_000, 1);
    await session.writeAudio(2, cloud(40), 48_000, 1);
    const first = connector.link;
    first.tracks[0]?.starve(30);
    first.tracks[1]?.starve(12, 20);
    first.tracks[1]?.starve(8);
    const underruns = () => {
      const { metadata } = session.status();
      return [
        metadata.to_room_underruns,
        metadata.to_room_underrun_ms,
        metadata.to_room_late_dropped_ms,
      ];
    };
    expect(underruns()).toEqual(["3", "50", "20"]);
    first.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(0);
    expect(connector.link).not.toBe(first);
    expect(underruns()).toEqual(["3", "50", "20"]);
    await session.writeAudio(1, cloud(40), 48_000, 1);
    connector.link.tracks[0]?.starve(5, 40);
    expect(underruns()).toEqual(["4", "55", "60"]);
    await session.close("left");
    expect(underruns()).toEqual(["4", "55", "60"]);
  });

  it("sends TrackStats at the chosen interval", async () => {
    const { session, connector } = await openFakeSession();
    const events: SessionEvent[] = [];
    session.attachStream({ onEvent: (event) => events.push(event), statsIntervalMs: 50 });
    await session.writeAudio(2, cloud(40), 48_000, 1);
    connector.link.tracks[0]?.play(10);
    await vi.advanceTimersByTimeAsync(120);
    const stats = events.filter((event) => event.type === "track_stats");
    expect(stats.length).toBeGreaterThanOrEqual(2);
    expect(stats.length).toBeLessThanOrEqual(3);
    expect(stats[0]).toEqual({
      type: "track_stats",
      trackId: 2,
      queuedMs: 30,
      playedMs: 10,
      clearedMs: 0,
      pendingMarks: 0,
    });
    await session.close("left");
  });

  it("publishes the PUBLISH_AT_JOIN tracks at join and again at every rejoin", async () => {
    const { session, connector } = await openFakeSession({ publishAtJoin: [1, 2] });
    expect(connector.link.tracks.map((t) => [t.options.name, t.options.sampleRate])).toEqual([
      ["app_audio", 48_000],
      ["tts", 48_000],
    ]);
    connector.link.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(0);
    expect(connector.links).toHaveLength(2);
    expect(connector.link.tracks).toHaveLength(2);
    await session.close("left");
  });

  it("forgets a lost room's marks: they can never play", async () => {
    const { session, connector, events } = await withEvents();
    await session.writeAudio(1, cloud(100), 48_000, 1);
    session.mark(1, "lost");
    connector.link.lose({ kind: "network", sdkReason: "" });
    await vi.advanceTimersByTimeAsync(0);
    const next = session.attachStream({ onEvent: (event) => events.push(event) });
    // The new track plays past where the old mark sat: a kept mark would be reported now.
    await session.writeAudio(1, cloud(200), 48_000, 1);
    connector.link.tracks[0]?.play(200);
    await vi.advanceTimersByTimeAsync(20);
    expect(events.filter((e) => e.type === "mark_played")).toEqual([]);
    next.detach();
    await session.close("left");
  });

  it("tells participant changes and a drain to the attached AudioSession only", async () => {
    const { session, connector, events } = await withEvents();
    connector.link.options.handlers.onParticipant?.("joined", "glasses", "TR_1");
    session.notifyDraining(5_000, "the bridge is shutting down");
    expect(session.hasAudioSession).toBe(true);
    expect(events).toEqual([
      { type: "participant", kind: "joined", identity: "glasses", trackSid: "TR_1" },
      { type: "draining", deadlineMs: 5_000, reason: "the bridge is shutting down" },
    ]);
    session.attachStream();
    expect(session.hasAudioSession).toBe(false);
    await session.close("left");
  });
});
