import { readFileSync } from "node:fs";

// package.json sits one level above both src/ (tests) and dist/ (the build).
const packageJson: unknown = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
);

/** The bridge's version, from its package.json; reported by HealthCheck and GetStatus. */
export const BRIDGE_VERSION: string =
  typeof packageJson === "object" &&
  packageJson !== null &&
  "version" in packageJson &&
  typeof packageJson.version === "string"
    ? packageJson.version
    : "0.0.0-unknown";
