import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// Every launch of the bridge runs Node with the flags in apps/bridge/node-flags.json
// (a 1 MB young generation: idle RSS 100 -> 91 MB, 10 users 174 -> 152 MB, event-loop p99
// 33 -> 21 ms in the bench). Each launcher names them itself; this keeps them in step.
const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");
const flags = JSON.parse(read("apps/bridge/node-flags.json")) as string[];

describe("the bridge's Node flags", () => {
  it("are a non-empty list of Node options", () => {
    expect(flags.length).toBeGreaterThan(0);
    for (const flag of flags) expect(flag).toMatch(/^--[a-z-]+(=\S+)?$/);
  });

  it.each([
    [
      "npm start (scripts/start.sh)",
      () => /^exec node (.*) apps\/bridge\/dist\/main\.js/m.exec(read("scripts/start.sh"))?.[1],
    ],
    [
      "the package's start script",
      () =>
        /^node (.*) dist\/main\.js$/.exec(
          JSON.parse(read("apps/bridge/package.json")).scripts.start,
        )?.[1],
    ],
    [
      "the Dockerfile's CMD",
      () =>
        /^CMD \["node", (.*), "dist\/main\.js"\]$/m
          .exec(read("Dockerfile"))?.[1]
          ?.replaceAll('"', "")
          .split(", ")
          .join(" "),
    ],
    [
      "dist/main.js run directly (its shebang)",
      () => /^#!\/usr\/bin\/env -S node (.*)$/m.exec(read("apps/bridge/src/main.ts"))?.[1],
    ],
  ])("are what %s passes", (_name, launcherFlags) => {
    expect(launcherFlags()?.split(" ")).toEqual(flags);
  });

  it("are the executable's execArgv (its SEA config reads the list)", () => {
    expect(read("apps/bridge/scripts/build-executable.mjs")).toMatch(
      /execArgv: JSON\.parse\(fs\.readFileSync\(new URL\("\.\.\/node-flags\.json"/,
    );
  });
});
