import { readFileSync } from "node:fs";

// Set by scripts/bundle.mjs in the bundled dist/main.js; undefined under tsc and vitest.
declare const __BRIDGE_VERSION__: string | undefined;

/** The version in package.json, which sits one level above both src/ (tests) and dist/. */
function packageVersion(): string {
  const packageJson: unknown = JSON.parse(
    readFileSync(new URL("../package.json", import.meta.url), "utf8"),
  );
  return typeof packageJson === "object" &&
    packageJson !== null &&
    "version" in packageJson &&
    typeof packageJson.version === "string"
    ? packageJson.version
    : "0.0.0-unknown";
}

/** The bridge's version, from its package.json; reported by HealthCheck and GetStatus. */
export const BRIDGE_VERSION: string =
  typeof __BRIDGE_VERSION__ === "string" ? __BRIDGE_VERSION__ : packageVersion();
