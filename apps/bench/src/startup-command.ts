import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { flag, numberFlag, writeOutputs } from "./cli.js";
import { describeMachine, machineLabel } from "./machine.js";
import { measureStartup, startupMarkdown } from "./startup.js";

const USAGE = `npm run bench -- startup [--runs 15] [--executable] [--out bench-results]
  Starts the built bridge --runs times the way the cloud's container does (LIVEKIT_GRPC_SOCKET),
  as node dist/main.js, or with --executable the livekit-bridge executable (npm run build:binary),
  SIGKILLs it each time, and prints spawn → first HealthCheck answered on the socket
  (median, p95, worst). Writes startup.json and startup.md into --out.`;

const EXECUTABLE = fileURLToPath(new URL("../../bridge/dist-exe/livekit-bridge", import.meta.url));

/** Runs `npm run bench -- startup`; resolves with the exit code. */
export async function runStartupCommand(args: readonly string[]): Promise<number> {
  if (args.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const say = (line: string) => process.stderr.write(`[bench startup] ${line}\n`);
  const runs = Math.max(1, Math.round(numberFlag(args, "runs", 15)));
  const executable = args.includes("--executable") ? EXECUTABLE : undefined;
  if (executable !== undefined && !existsSync(executable)) {
    process.stderr.write(`${executable} is missing: run npm run build:binary first\n`);
    return 2;
  }
  const report = await measureStartup({
    runs,
    say,
    ...(executable === undefined ? {} : { executable }),
  });
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
