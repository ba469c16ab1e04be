import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Reads `--name value` from argv; undefined when absent. */
export function flag(args: readonly string[], name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
}

/** A positive number flag, or `fallback`; throws with the flag's name on anything else. */
export function numberFlag(args: readonly string[], name: string, fallback: number): number {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`--${name} wants a number ≥ 0, got "${raw}"`);
  return value;
}

/** The bound and interruption of a run; see {@link runSignal}. */
export interface RunSignal {
  readonly signal: AbortSignal;
  /** Whether Ctrl-C or SIGTERM arrived. */
  interrupted(): boolean;
  /** Removes the signal handlers and the deadline. */
  dispose(): void;
}

/**
 * An AbortSignal for the run: aborted by Ctrl-C / SIGTERM (a second one exits at once) or
 * after `deadlineMs`, so no run outlives its bound. Returns a function removing the hooks.
 */
export function runSignal(deadlineMs: number, say: (line: string) => void): RunSignal {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals > 1) process.exit(130);
    say("stopping: cleaning up (Ctrl-C again to quit at once) …");
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const deadline = setTimeout(() => {
    say(`stopping: the run exceeded its bound of ${Math.round(deadlineMs / 1000)} s`);
    controller.abort();
  }, deadlineMs);
  deadline.unref();
  return {
    signal: controller.signal,
    interrupted: () => signals > 0,
    dispose() {
      clearTimeout(deadline);
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

/** Writes `files` (name → content) into `dir`, creating it; returns the paths. */
export function writeOutputs(dir: string, files: Record<string, string | Buffer>): string[] {
  mkdirSync(dir, { recursive: true });
  return Object.entries(files).map(([name, content]) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  });
}
