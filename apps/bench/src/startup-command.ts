import { resolve } from "node:path";
import { flag, numberFlag, writeOutputs } from "./cli.js";
import { describeMachine, machineLabel } from "./machine.js";
import { measureStartup, startupMarkdown } from "./startup.js";

const USAGE = `npm run bench -- startup [--runs 15] [--out bench-results]
  Starts the built bridge --runs times the way the cloud's container does (LIVEKIT_GRPC_SOCKET),
  SIGKILLs it each time, and prints spawn → first HealthCheck answered on the socket
  (median, p95, worst). Writes startup.json and startup.md into --out.`;

/** Runs `npm run bench -- startup`; resolves with the exit code. */
export async function runStartupCommand(args: readonly string[]): Promise<number> {
  if (args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const say = (line: string) => process.stderr.write(`[bench startup] ${line}\n`);
  const runs = Math.max(1, Math.round(numberFlag(args, "runs", 15)));
  const report = await measureStartup({ runs, say });
  const markdown = startupMarkdown(report, machineLabel(describeMachine()));
  const out = resolve(flag(args, "out") ?? "bench-results");
  const paths = writeOutputs(out, {
    "startup.json": `${JSON.stringify(report, null, 2)}\n`,
    "startup.md": markdown,
  });
  process.stdout.write(markdown);
  say(`wrote ${paths.join(", ")}`);
  return 0;
}
