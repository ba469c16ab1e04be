import { describe, expect, it } from "vitest";
import { waitFor } from "../src/wait-for.js";

describe("waitFor", () => {
  it("resolves as soon as the predicate holds", async () => {
    let calls = 0;
    await waitFor(() => ++calls === 3, { timeoutMs: 1000, intervalMs: 5 });
    expect(calls).toBe(3);
  });

  it("treats a throwing check as not yet, and names its last error on timeout", async () => {
    const started = Date.now();
    await expect(
      waitFor(
        async () => {
          throw new Error("connection refused");
        },
        { timeoutMs: 200, intervalMs: 20, description: "LiveKit to answer" },
      ),
    ).rejects.toThrow(
      /timed out after 200 ms waiting for LiveKit to answer \(\d+ checks\); last check threw: Error: connection refused/,
    );
    expect(Date.now() - started).toBeLessThan(400);
  });

  it("cuts off a check that never settles", async () => {
    const started = Date.now();
    await expect(
      waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 100, intervalMs: 10 }),
    ).rejects.toThrow(/timed out after 100 ms waiting for condition \(1 checks\)/);
    expect(Date.now() - started).toBeLessThan(300);
  });
});
