import { execFile } from "node:child_process";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const repo = resolve(import.meta.dirname, "../../..");
const PROTO = "proto/mentra/livekit/bridge/bridge.proto";
const GENERATED = "packages/proto/src/gen/mentra/livekit/bridge/bridge_pb.ts";

/** Runs scripts/check-proto.sh against a copy; returns its exit code and output. */
async function checkProto(root: string): Promise<{ code: number; output: string }> {
  const env = { ...process.env, PATH: `${join(repo, "node_modules/.bin")}:${process.env.PATH}` };
  try {
    const { stdout, stderr } = await exec("bash", [join(repo, "scripts/check-proto.sh"), root], {
      env,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

async function edit(file: string, from: string | RegExp, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const changed = text.replace(from, to);
  expect(changed, `edit of ${file} must change it`).not.toBe(text);
  await writeFile(file, changed);
}

describe("wire contract checks (on a temporary copy of the repo)", () => {
  let copy: string;

  beforeEach(async () => {
    copy = await mkdtemp(join(tmpdir(), "mentra-contract-"));
    for (const path of ["proto", "buf.yaml", "buf.gen.yaml", "packages/proto/src/gen"]) {
      await cp(join(repo, path), join(copy, path), { recursive: true });
    }
  });

  afterEach(async () => {
    await rm(copy, { recursive: true, force: true });
  });

  it("passes on the committed contract and generated code", async () => {
    const result = await checkProto(copy);
    expect(result.output).toContain("[check-proto] ok");
    expect(result.code).toBe(0);
  }, 60_000);

  it("fails on buf breaking when a field number changes", async () => {
    await edit(join(copy, PROTO), "int32 sample_rate = 2;", "int32 sample_rate = 7;");
    const result = await checkProto(copy);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("not wire-compatible");
    expect(result.output).toMatch(/AudioChunk/);
  }, 60_000);

  it("allows an additive change to the contract", async () => {
    await edit(
      join(copy, PROTO),
      "int32 track_id = 6;\n}",
      "int32 track_id = 6;\n  // A new field.\n  string extra = 7;\n}",
    );
    const result = await checkProto(copy);
    // The contract stays compatible; only the generated code is now stale.
    expect(result.output).not.toContain("not wire-compatible");
    expect(result.output).toContain("is stale or was edited by hand");
  }, 60_000);

  it("fails on codegen freshness when a generated file is edited by hand", async () => {
    await edit(
      join(copy, GENERATED),
      /export type AudioChunk = /,
      "export type AudioChunkEdited = ",
    );
    const result = await checkProto(copy);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain("is stale or was edited by hand");
  }, 60_000);
});
