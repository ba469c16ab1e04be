import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { counterWindow } from "../src/bridge-counters.js";
import { codeArea, summariseProfile } from "../src/profile-summary.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("profile summary", () => {
  it("names the package, node core, GC and idle as code areas", () => {
    expect(
      codeArea("file:///r/node_modules/.pnpm/x/node_modules/@livekit/rtc-node/dist/room.cjs", "f"),
    ).toBe("@livekit/rtc-node");
    expect(codeArea("node:events", "emit")).toBe("node core");
    expect(codeArea("", "(garbage collector)")).toBe("GC");
    expect(codeArea("", "(idle)")).toBe("idle");
  });

  it("adds up self time per function and leaves idle out of the busy share", () => {
    const dir = mkdtempSync(join(tmpdir(), "profile-summary-"));
    dirs.push(dir);
    const file = join(dir, "p.cpuprofile");
    const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
    writeFileSync(
      file,
      JSON.stringify({
        nodes: [
          { id: 1, callFrame: frame("(idle)") },
          {
            id: 2,
            callFrame: frame(
              "request",
              "file:///a/node_modules/@livekit/rtc-node/dist/ffi_client.cjs",
            ),
          },
          { id: 3, callFrame: frame("(garbage collector)") },
        ],
        // 500 ms idle, 300 ms in request, 200 ms GC, of a 1 s profile.
        samples: [1, 2, 2, 3],
        timeDeltas: [500_000, 100_000, 200_000, 200_000],
        startTime: 0,
        endTime: 1_000_000,
      }),
    );
    const text = summariseProfile(file);
    expect(text).toContain("JS thread busy 50.0%");
    expect(text).toContain("| @livekit/rtc-node | 30.0 | 60.0 |");
    expect(text).toContain("| GC | 20.0 | 40.0 |");
    expect(text).not.toContain("| idle |");
  });
});

describe("bridge counters", () => {
  it("takes a window's growth of GC pauses and FFI traffic", () => {
    const before = {
      gc: { count: 3, totalMs: 4, maxMs: 2, byKind: { minor: { count: 3, totalMs: 4 } } },
      ffiRequests: { captureAudioFrame: 10 },
      ffiEvents: { roomEvent: 5 },
    };
    const after = {
      gc: { count: 5, totalMs: 9.5, maxMs: 3, byKind: { minor: { count: 5, totalMs: 9.5 } } },
      ffiRequests: { captureAudioFrame: 60, publishData: 1 },
      ffiEvents: { roomEvent: 5, audioStreamEvent: 50 },
    };
    expect(counterWindow(before, after)).toEqual({
      gcCount: 2,
      gcTotalMs: 5.5,
      gcMaxMsSoFar: 3,
      gcByKind: { minor: { count: 2, totalMs: 5.5 } },
      ffiRequests: { captureAudioFrame: 50, publishData: 1 },
      ffiEvents: { audioStreamEvent: 50 },
    });
  });
});
