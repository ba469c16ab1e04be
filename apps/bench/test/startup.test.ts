import { describe, expect, it } from "vitest";
import { measureStartup, startupMarkdown } from "../src/startup.js";

// The built bridge, started as the cloud's container starts it, must answer HealthCheck on
// its socket within 300 ms of spawn: the deployed client tries its one reconnect 2 s after
// a stream error. The machine is shared (2 cores; other test runs push the load average
// past 20 at times), and then wall-clock time says more about the neighbours than about
// the bridge. So the CPU time the bridge spent until it answered is held to the budget
// always, and the wall-clock time whenever the machine is not oversubscribed (load average
// below its cores); the figures are printed either way.
describe("the bridge's start-up (npm run bench -- startup)", () => {
  it("answers HealthCheck on LIVEKIT_GRPC_SOCKET within 300 ms of spawn", async () => {
    const report = await measureStartup({ runs: 9 });
    process.stdout.write(startupMarkdown(report, "this machine"));
    expect(report.runsMs).toHaveLength(9);
    expect(report.staleSocketRuns).toBe(8);
    expect(report.cpuAtHealth.count).toBe(9);
    expect(report.cpuAtHealth.p50).toBeLessThanOrEqual(250);
    expect(report.cpuAtHealth.max).toBeLessThanOrEqual(400);
    // The bridge's own clock: it was listening before the first answer reached the poller.
    expect(report.listeningAt.count).toBeGreaterThan(0);
    expect(report.listeningAt.p50).toBeLessThanOrEqual(report.spawnToHealth.p50);
    const idle = Math.max(report.load.before, report.load.after) < report.load.cores;
    process.stdout.write(
      idle
        ? "Machine not oversubscribed: wall-clock held to 300 ms (median), 600 ms (worst).\n"
        : `Machine oversubscribed (load ${report.load.before}/${report.load.after} on ${report.load.cores} cores): wall-clock printed, CPU time held to the budget.\n`,
    );
    if (idle) {
      expect(report.spawnToHealth.p50).toBeLessThanOrEqual(300);
      expect(report.spawnToHealth.max).toBeLessThanOrEqual(600);
    }
  });
});
