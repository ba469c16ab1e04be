// The real-time-under-load targets (issue #18), judged on a ladder: device→cloud p99 at 10 and
// 20 users, zero gaps, zero cloud→room underruns, cost per added user and idle memory.
import type { LadderResult, StepResult } from "./bench.js";
import { combineReadings, type PitchReading, TTS_TONE_HZ } from "./pitch.js";
import { mib, round } from "./stats.js";
import type { TargetCheck } from "./targets.js";

/** device→cloud p99 (device send → cloud client) at `users`, worst over the connection modes. */
function p99Target(steps: readonly StepResult[], users: number, boundMs: number): TargetCheck {
  const at = steps.filter((s) => s.users === users && s.latency.endToEndMs.count > 0);
  const worst = Math.max(0, ...at.map((s) => s.latency.endToEndMs.p99));
  const gaps = at.reduce((n, s) => n + s.packets.gaps, 0);
  return {
    target: `${users} users: device→cloud p99 ≤ ${boundMs} ms, zero gaps`,
    measured: at.length > 0 ? `p99 ${worst} ms, ${gaps} gaps` : "-",
    met: at.length > 0 ? worst <= boundMs && gaps === 0 : null,
    note:
      at.length > 0
        ? "per packet, device send time to the cloud client's receipt; worst of the connection modes"
        : `the ladder had no ${users}-user step`,
  };
}

/** Cloud→room at exactly its pitch: every utterance the listeners heard within 1% of 300 Hz. */
function pitchTarget(steps: readonly StepResult[]): TargetCheck {
  const heard = combineReadings(steps.map((s) => s.heard));
  const control = combineReadings(steps.flatMap((s) => (s.heardDirect ? [s.heardDirect] : [])));
  const within = (hz: number) => Math.abs(hz - TTS_TONE_HZ) <= TTS_TONE_HZ * 0.01;
  const range = (r: PitchReading) => (r.utterances > 0 ? `${r.lowestHz}–${r.highestHz} Hz` : "-");
  return {
    target: `cloud→room at its pitch: ${TTS_TONE_HZ} Hz TTS heard within 1%`,
    measured: heard.utterances > 0 ? `${range(heard)} (from a peer: ${range(control)})` : "-",
    met: heard.utterances > 0 ? within(heard.lowestHz) && within(heard.highestHz) : null,
    note: "per utterance, zero crossings over the time between its first and last, on the listening users' glasses (every 5th user from the 2nd); from a peer: the same tone straight into LiveKit, heard by the first listener (the pitch without the bridge)",
  };
}

/** Judges a ladder against issue #18's targets. */
export function judgeRealtime(result: LadderResult): TargetCheck[] {
  const { steps, perSession, baseline } = result;
  const multi = steps.length >= 2;
  const underruns = steps.reduce((n, s) => n + s.underruns.count, 0);
  const underrunMs = steps.reduce((n, s) => n + s.underruns.ms, 0);
  const idleMB = round(mib(baseline.rssBytes));
  return [
    p99Target(steps, 10, 30),
    p99Target(steps, 20, 50),
    {
      target: "cloud→room: zero underruns",
      measured: steps.length > 0 ? `${underruns} underruns (${underrunMs} ms)` : "-",
      met: steps.length > 0 ? underruns === 0 : null,
      note: "frames an AudioSource had to invent while cloud audio played (GetStatus to_room_underruns)",
    },
    pitchTarget(steps),
    {
      target: "per added user ≤ 3% of a core and ≤ 2.5 MB RSS",
      measured: multi ? `${perSession.cpuPctOfCore}% and ${perSession.rssMB} MB per user` : "-",
      met: multi ? perSession.cpuPctOfCore <= 3 && perSession.rssMB <= 2.5 : null,
      note: multi ? "least-squares slopes over the ladder" : "needs two or more steps",
    },
    {
      target: "idle bridge ≤ 80 MB RSS",
      measured: `${idleMB} MB`,
      met: idleMB <= 80,
      note: "before the first user joins",
    },
  ];
}
