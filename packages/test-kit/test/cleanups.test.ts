import { describe, expect, it } from "vitest";
import { type Cleanups, runCleanups } from "../src/cleanups.js";

describe("runCleanups", () => {
  it("runs the steps last registered first and empties the list", async () => {
    const ran: string[] = [];
    const cleanups: Cleanups = [];
    for (const name of ["client", "device", "stream"]) {
      cleanups.push(async () => ran.push(name));
    }
    await runCleanups(cleanups);
    expect(ran).toEqual(["stream", "device", "client"]);
    expect(cleanups).toHaveLength(0);
  });

  it("stops at a failing step, unless told to ignore errors", async () => {
    const ran: string[] = [];
    const steps = (): Cleanups => [
      async () => ran.push("first"),
      () => Promise.reject(new Error("device already gone")),
      async () => ran.push("last"),
    ];
    await expect(runCleanups(steps())).rejects.toThrow("device already gone");
    expect(ran).toEqual(["last"]);
    ran.length = 0;
    await runCleanups(steps(), { ignoreErrors: true });
    expect(ran).toEqual(["last", "first"]);
  });
});
