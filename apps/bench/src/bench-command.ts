import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { type Connections, type LadderResult, runLadder } from "./bench.js";
import { type BenchReport, benchMarkdown, benchPanels, judgeLadder } from "./bench-report.js";
import { withBenchRig } from "./bench-rig.js";
import { flag, numberFlag, runSignal, writeOutputs } from "./cli.js";
import { describeMachine, machineLabel } from "./machine.js";
import { renderPlot } from "./plot.js";
import { judgeRealtime } from "./realtime-targets.js";
import { createUserPool } from "./user-pool.js";
import { createVoices } from "./voices.js";

const USAGE = `npm run bench -- [--users 1,5,10,25,50] [--seconds 20] [--warmup 3] [--out bench-results] [--quick]
npm run bench -- startup [--runs 15]   the bridge's start-up time (see startup --help)
  --users    the ladder of concurrent users (ascending)
  --seconds  measuring window per step
  --warmup   load before each window, after the step's users joined
  --quick    2 users for 6 s (proves the command works)
  --mp3-every  every n-th user loops an MP3 through PlayAudio (default 5; 0: none)
  --listen-every  every n-th user from the 2nd hears its 300 Hz TTS tone and checks the
             pitch; the other glasses subscribe to nothing (default 5; 1: every user)
  --directions both (default), room-to-cloud or cloud-to-room: to attribute CPU
  --connections  shared (default: every user's streams on one HTTP/2 connection, as the
             deployed cloud shares one grpc channel), per-user (a client each), or both
             (the ladder once per mode, on the same bridge)
  --profile  also write a V8 CPU profile of the bridge's JS thread into <out>/profile`;

/** Runs `npm run bench` with `args`; resolves with the exit code. */
export async function runBenchCommand(args: readonly string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  if (args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const quick = args.includes("--quick");
  const ladder = (flag(args, "users") ?? (quick ? "2" : "1,5,10,25,50"))
    .split(",")
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => a - b);
  if (ladder.length === 0) throw new Error("--users wants a list like 1,5,10");
  const stepSeconds = numberFlag(args, "seconds", quick ? 6 : 20);
  const warmupSeconds = numberFlag(args, "warmup", quick ? 1 : 3);
  const mp3Every = numberFlag(args, "mp3-every", 5);
  const listenEvery = Math.max(1, numberFlag(args, "listen-every", 5));
  const directions = flag(args, "directions") ?? "both";
  if (directions !== "both" && directions !== "room-to-cloud" && directions !== "cloud-to-room") {
    throw new Error(`--directions wants both, room-to-cloud or cloud-to-room, got "${directions}"`);
  }
  const connectionsFlag = flag(args, "connections") ?? "shared";
  const modes: Connections[] =
    connectionsFlag === "both"
      ? ["shared", "per-user"]
      : connectionsFlag === "shared" || connectionsFlag === "per-user"
        ? [connectionsFlag]
        : [];
  if (modes.length === 0) {
    throw new Error(`--connections wants shared, per-user or both, got "${connectionsFlag}"`);
  }
  const out = resolve(flag(args, "out") ?? "bench-results");
  // The bound: joins (≤ 2 s each at worst, 5 at a time), warm-up and window per step, and slack.
  const maxUsers = ladder.at(-1) ?? 1;
  const boundMs =
    120_000 +
    modes.length * ladder.length * (stepSeconds + warmupSeconds + 10) * 1000 +
    maxUsers * 2_000;
  const run = runSignal(boundMs, say);
  const machine = describeMachine();
  const rigOptions = args.includes("--profile") ? { profileDir: resolve(out, "profile") } : {};
  return withBenchRig("bench", say, run, rigOptions, async (rig) => {
    const voices = createVoices();
    const results: LadderResult[] = [];
    for (const connections of modes) {
      if (run.signal.aborted) break;
      const pool = createUserPool({
        runId: `bench-${randomBytes(3).toString("hex")}`,
        creds: rig.creds,
        client: connections === "shared" ? rig.client : () => rig.connect(),
        voices,
        playUrl: rig.mp3Url,
        mp3Every,
        listenEvery,
        directions,
      });
      say(`ladder with ${connections === "shared" ? "one shared" : "one per-user"} connection`);
      results.push(
        await runLadder(rig, pool, {
          ladder,
          stepMs: stepSeconds * 1000,
          warmupMs: warmupSeconds * 1000,
          signal: run.signal,
          say,
          connections,
        }),
      );
    }
    const result = mergeLadders(results);
    const notes: string[] = [];
    if (result.steps.some((s) => s.playback.unimplemented)) {
      notes.push("PlayAudio answered Unimplemented: the MP3 share was skipped.");
    }
    const playErrors = result.steps.at(-1)?.playback;
    if (playErrors && playErrors.failed + playErrors.errors > 0) {
      notes.push(
        `MP3 loop problems: ${playErrors.failed} failed, ${playErrors.errors} errors (${playErrors.lastError}).`,
      );
    }
    if (result.steps.some((s) => s.load.pacerSkippedTicks > 0 || s.load.pacerLateP99Ms > 20)) {
      notes.push(
        "The load generator fell behind real time in some steps (pacer lateness); the machine was saturated.",
      );
    }
    for (const step of result.steps) {
      if (step.underrunsOutside.count > 0) {
        notes.push(
          `At ${step.users} users (${step.connections} connection), ${step.underrunsOutside.count} underruns (${step.underrunsOutside.ms} ms) came before the window, while users joined (and the last step's chirp probe): the table counts the window's only.`,
        );
      }
      if (step.load.otherCpuPctOfCore > 20) {
        notes.push(
          `At ${step.users} users, other processes on the machine used ${step.load.otherCpuPctOfCore}% of a core: the figures include that contention.`,
        );
      }
    }
    if (result.stoppedEarly) notes.push(`The ladder stopped early: ${result.stoppedEarly}.`);
    if (run.signal.aborted)
      notes.push("The run was interrupted; the table shows the steps that finished.");
    const report: BenchReport = {
      kind: "bench",
      machine,
      config: { ladder, stepSeconds, warmupSeconds, mp3Every, directions, connections: modes },
      result,
      targets: [...judgeLadder(result), ...judgeRealtime(result)],
      notes,
    };
    const markdown = benchMarkdown(report);
    const plot = await renderPlot(
      `LiveKit bridge under load — ${machineLabel(machine)}`,
      benchPanels(result),
    );
    const paths = writeOutputs(out, {
      "bench.json": `${JSON.stringify(report, null, 2)}\n`,
      "bench.md": markdown,
      "bench.svg": plot.svg,
      "bench.png": plot.png,
    });
    process.stdout.write(`${markdown}\n`);
    say(`wrote ${paths.join(", ")}`);
    return run.interrupted() ? 130 : result.steps.length === modes.length * ladder.length ? 0 : 1;
  });
}

/**
 * One report of the ladders of each connection mode: the steps of all, the first ladder's
 * idle baseline and slopes (the shared connection's when both ran), the last one's
 * after-leave sample.
 */
function mergeLadders(results: readonly LadderResult[]): LadderResult {
  const first = results[0];
  if (first === undefined) throw new Error("the run was interrupted before any ladder");
  return {
    ...first,
    steps: results.flatMap((r) => r.steps),
    afterLeave: results.at(-1)?.afterLeave,
    stoppedEarly: results.map((r) => r.stoppedEarly).find((s) => s !== "") ?? "",
  };
}
