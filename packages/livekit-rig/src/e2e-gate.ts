import { isolationUnavailableReason } from "./netns.js";

/** The environment variable that lets a developer without root skip the e2e suites. */
export const E2E_OPT_OUT_ENV = "MENTRA_SKIP_E2E";

/**
 * Decides whether an e2e suite runs: "run" where the rig can isolate LiveKit;
 * "skip" only when explicitly opted out (never under CI); otherwise it throws
 * with the reason, so a missing rig is a failure and not a silent skip.
 */
export async function e2eGate(): Promise<"run" | "skip"> {
  const reason = await isolationUnavailableReason();
  if (reason === undefined) return "run";
  const optedOut = process.env[E2E_OPT_OUT_ENV] === "1";
  if (optedOut && process.env.CI !== "true") return "skip";
  throw new Error(
    `the LiveKit e2e rig cannot run here: ${reason}. ` +
      (optedOut
        ? `${E2E_OPT_OUT_ENV}=1 is ignored under CI.`
        : `Set ${E2E_OPT_OUT_ENV}=1 to skip the e2e suites on a developer machine (never in CI).`),
  );
}
