import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Runs a command and returns its stdout; the error names the command and its stderr. */
export async function run(cmd: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { encoding: "utf8" });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? "";
    throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr || String(err)}`);
  }
}

/** Like {@link run}, but synchronous and silent on failure: for exit-time cleanup only. */
export function runSyncQuietly(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return "";
  }
}
