import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { withBenchRig } from "./bench-rig.js";
import { flag, numberFlag, runSignal, writeOutputs } from "./cli.js";
import { describeMachine, machineLabel } from "./machine.js";
import { renderPlot } from "./plot.js";
import { runSoak } from "./soak.js";
import { judgeSoak, type SoakReport, soakMarkdown, soakPanels } from "./soak-report.js";
import { createUserPool } from "./user-pool.js";
import { createVoices } from "./voices.js";

const USAGE = `npm run soak -- [--minutes 10] [--users 5] [--cycles 500] [--warmup 30] [--out bench-results]
  --minutes  how long the fixed load runs (RSS, RSS−heap, handles sampled every 10 s)
  --users    concurrent users during warm-up and soak
  --cycles   join → first audio → leave cycles afterwards (5 at a time)
  --warmup   seconds of load before the baseline is taken`;

/** Runs `npm run soak` with `args`; resolves with the exit code. */
export async function runSoakCommand(args: readonly string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`[soak] ${line}\n`);
  if (args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const minutes = numberFlag(args, "minutes", 10);
  const users = Math.max(1, Math.round(numberFlag(args, "users", 5)));
  const cycles = Math.round(numberFlag(args, "cycles", 500));
  const warmupSeconds = numberFlag(args, "warmup", Math.min(30, Math.max(2, minutes * 6)));
  const out = resolve(flag(args, "out") ?? "bench-results");
  const soakMs = minutes * 60_000;
  const sampleEveryMs = Math.min(10_000, Math.max(1_000, soakMs / 6));
  // The bound: warm-up, soak, up to 3 s per cycle per lane, and slack for joins and settling.
  const run = runSignal(180_000 + warmupSeconds * 1000 + soakMs + cycles * 3_000, say);
  const machine = describeMachine();
  return withBenchRig("soak", say, run, {}, async (rig) => {
    const runId = `soak-${randomBytes(3).toString("hex")}`;
    const voices = createVoices();
    const pool = createUserPool({
      runId,
      creds: rig.creds,
      client: rig.client,
      voices,
      playUrl: rig.mp3Url,
    });
    const result = await runSoak(rig, pool, {
      runId,
      users,
      soakMs,
      sampleEveryMs,
      warmupMs: warmupSeconds * 1000,
      cycles,
      voices,
      signal: run.signal,
      say,
    });
    const notes: string[] = [];
    if (run.signal.aborted) notes.push("The run was interrupted; figures cover what finished.");
    const report: SoakReport = {
      kind: "soak",
      machine,
      config: { users, minutes, cycles, warmupSeconds },
      result,
      targets: judgeSoak(result, minutes),
      notes,
    };
    const markdown = soakMarkdown(report);
    const plot = await renderPlot(
      `Soak, ${users} users — ${machineLabel(machine)}`,
      soakPanels(result),
    );
    const paths = writeOutputs(out, {
      "soak.json": `${JSON.stringify(report, null, 2)}\n`,
      "soak.md": markdown,
      "soak.png": plot.png,
    });
    process.stdout.write(`${markdown}\n`);
    say(`wrote ${paths.join(", ")}`);
    return run.interrupted() ? 130 : 0;
  });
}
