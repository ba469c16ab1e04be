import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { e2eGate } from "@mentra/livekit-rig";
import { speechLike } from "@mentra/test-kit";
import { afterAll, describe, expect, it } from "vitest";

const gate = await e2eGate();
const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

describe.skipIf(gate === "skip")("npm run demo", () => {
  const dir = mkdtempSync(join(tmpdir(), "mentra-demo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs end to end and saves exactly what the glasses said", async () => {
    const out = join(dir, "heard.wav");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [MAIN, "--quick", "--out", out],
      {
        timeout: 60_000,
      },
    );
    expect(stdout).toContain(`saved to ${out}`);
    expect(stdout).toMatch(/glasses heard the reply at 52\d\.\d Hz/);
    expect(stdout).toContain("playback completed");
    const wav = readFileSync(out);
    expect(wav.subarray(0, 4).toString()).toBe("RIFF");
    const heard = new Int16Array(
      wav.buffer.slice(wav.byteOffset + 44, wav.byteOffset + wav.length),
    );
    const said = speechLike(16_000, 1_500);
    expect(heard.length).toBe(said.length);
    expect(Buffer.from(heard.buffer).equals(Buffer.from(said.buffer))).toBe(true);
  });
});
