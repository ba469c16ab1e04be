import { describe, expect, it } from "vitest";
import { TrackMarks } from "../../src/session/track-marks.js";

describe("TrackMarks", () => {
  it("reports marks in order once the track has played past them", () => {
    const marks = new TrackMarks();
    marks.add("a", { writtenMs: 300, playedMs: 0 });
    marks.add("b", { writtenMs: 600, playedMs: 10 });
    expect(marks.due(299)).toEqual([]);
    expect(marks.due(300).map((m) => m.name)).toEqual(["a"]);
    expect(marks.due(1_000).map((m) => [m.name, m.atMs])).toEqual([["b", 600]]);
    expect(marks.size).toBe(0);
  });

  it("says how much of the utterance was heard and drops the marks behind a clear", () => {
    const marks = new TrackMarks();
    marks.beforeWrite({ writtenMs: 500, playedMs: 500 });
    marks.add("end", { writtenMs: 3_500, playedMs: 500 });
    const outcome = marks.clear(1_900, 1_600, 1_920);
    expect(outcome).toEqual({ playedMs: 1_400, marksDropped: ["end"] });
    expect(marks.clearedMs).toBe(1_600);
    // The next utterance starts after the silence the clear wrote, not where playing stopped,
    // even when it is written before that silence has played.
    marks.beforeWrite({ writtenMs: 1_920, playedMs: 1_905 });
    expect(marks.clear(2_020, 0).playedMs).toBe(100);
  });

  it("starts a new utterance only on an idle track", () => {
    const marks = new TrackMarks();
    marks.beforeWrite({ writtenMs: 0, playedMs: 0 });
    marks.beforeWrite({ writtenMs: 400, playedMs: 200 });
    expect(marks.clear(300, 100).playedMs).toBe(300);
  });
});
