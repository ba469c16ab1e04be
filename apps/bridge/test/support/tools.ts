import { execFile } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (buf.yaml, proto/, README.md). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** grpcurl is the deployed cloud's stand-in: a gRPC client that is not connect-es. */
export function grpcurlBinary(): string {
  const bin = process.env.GRPCURL_BIN;
  if (bin === undefined || bin === "") {
    throw new Error(
      "GRPCURL_BIN is not set: run the tests through `npm test` (scripts/lib.sh sets it), " +
        "or point it at a grpcurl binary (scripts/bootstrap.sh builds one).",
    );
  }
  return bin;
}

/** What a command printed and how it ended. */
export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a shell command line the way the README shows it, with `grpcurl` and `buf` on the
 * PATH and `localhost:9090` pointed at the server under test. Never rejects: the exit code
 * is part of the result. Killed after `timeoutMs`.
 */
export function runReadmeCommand(
  line: string,
  target: string,
  timeoutMs = 15_000,
): Promise<CommandResult> {
  const tools = [path.dirname(grpcurlBinary()), path.join(REPO_ROOT, "node_modules/.bin")];
  const command = line.replaceAll("localhost:9090", target);
  return new Promise((resolve) => {
    execFile(
      "bash",
      ["-c", command],
      {
        cwd: REPO_ROOT,
        timeout: timeoutMs,
        env: { ...process.env, PATH: `${tools.join(":")}:${process.env.PATH ?? ""}` },
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The lines of the first ```sh block after the README heading `heading`. */
export async function readmeBlock(heading: string): Promise<string[]> {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(path.join(REPO_ROOT, "README.md"), "utf8");
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no heading ${heading}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(start));
  if (block?.[1] === undefined) throw new Error(`no sh block under ${heading}`);
  // Continuation lines (`\` at the end) belong to the command before them.
  return block[1]
    .replaceAll("\\\n", " ")
    .split("\n")
    .map((line) => line.replace(/\s+/g, " ").trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The TCP side of a listening bridge's address; throws when it serves only a Unix socket. */
export function tcpAddress(address: {
  readonly port: number | undefined;
  readonly url: string | undefined;
}): { readonly port: number; readonly url: string } {
  const { port, url } = address;
  if (port === undefined || url === undefined) throw new Error("the bridge has no TCP listener");
  return { port, url };
}
