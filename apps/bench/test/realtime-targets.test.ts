import { describe, expect, it } from "vitest";
import type { LadderResult, StepResult } from "../src/bench.js";
import { judgeRealtime } from "../src/realtime-targets.js";

const MB = 1024 * 1024;

/** A step with only what the judge reads; the rest of StepResult does not matter here. */
function step(
  users: number,
  p99: number,
  gaps: number,
  underruns: number,
  heardHz = 300,
): StepResult {
  return {
    users,
    connections: "shared",
    latency: { endToEndMs: { count: 500, p50: 2, p95: 3, p99, max: p99 } },
    packets: { gaps },
    drops: { bridgeCloudDelayDroppedMs: 0 },
    underruns: { count: underruns, ms: underruns * 10 },
    heard: { listeners: 1, utterances: 4, lowestHz: heardHz, highestHz: 300 },
    heardDirect: { utterances: 4, lowestHz: 299, highestHz: 300.5 },
  } as unknown as StepResult;
}

function ladder(steps: StepResult[], idleMB: number, cpu = 2, rss = 2): LadderResult {
  return {
    steps,
    baseline: { rssBytes: idleMB * MB },
    perSession: { rssMB: rss, nativeMB: 1, cpuPctOfCore: cpu },
  } as unknown as LadderResult;
}

const byTarget = (checks: ReturnType<typeof judgeRealtime>) =>
  Object.fromEntries(checks.map((c) => [c.target, c]));

describe("issue #18 targets", () => {
  it("meets every target on a ladder within the bounds", () => {
    const checks = judgeRealtime(ladder([step(10, 30, 0, 0), step(20, 50, 0, 0)], 80));
    expect(checks.map((c) => c.met)).toEqual([true, true, true, true, true, true]);
    expect(byTarget(checks)["idle bridge ≤ 80 MB RSS"]?.measured).toBe("80 MB");
  });

  it("fails each target just past its bound, and takes the worst connection mode", () => {
    const worse = { ...step(10, 31, 0, 0), connections: "per-user" } as StepResult;
    const checks = byTarget(
      judgeRealtime(ladder([step(10, 12, 0, 0), worse, step(20, 40, 1, 3, 296.9)], 81, 3.1, 2)),
    );
    expect(checks["10 users: device→cloud p99 ≤ 30 ms, zero gaps"]).toMatchObject({
      met: false,
      measured: "p99 31 ms, 0 gaps",
    });
    expect(checks["20 users: device→cloud p99 ≤ 50 ms, zero gaps"]).toMatchObject({
      met: false,
      measured: "p99 40 ms, 1 gaps",
    });
    expect(checks["cloud→room: zero underruns"]).toMatchObject({
      met: false,
      measured: "3 underruns (30 ms)",
    });
    expect(checks["cloud→room at its pitch: 300 Hz TTS heard within 1%"]).toMatchObject({
      met: false,
      measured: "296.9–300 Hz (from a peer: 299–300.5 Hz)",
    });
    expect(checks["per added user ≤ 3% of a core and ≤ 2.5 MB RSS"]?.met).toBe(false);
    expect(checks["idle bridge ≤ 80 MB RSS"]?.met).toBe(false);
  });

  it("says not measured for a user count the ladder did not reach, and for slopes of one step", () => {
    const checks = byTarget(judgeRealtime(ladder([step(5, 3, 0, 0)], 70)));
    expect(checks["10 users: device→cloud p99 ≤ 30 ms, zero gaps"]?.met).toBeNull();
    expect(checks["20 users: device→cloud p99 ≤ 50 ms, zero gaps"]?.met).toBeNull();
    expect(checks["per added user ≤ 3% of a core and ≤ 2.5 MB RSS"]?.met).toBeNull();
    expect(checks["cloud→room: zero underruns"]?.met).toBe(true);
  });
});
