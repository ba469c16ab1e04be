// How the bench starts the built bridge: its entry, and the Node flags every launch of the
// bridge uses (apps/bridge/node-flags.json, as npm start, the Dockerfile and the executable).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The built apps/bridge/dist/main.js. */
export const BRIDGE_MAIN = fileURLToPath(new URL("../../bridge/dist/main.js", import.meta.url));

/** The bridge's Node flags, before its entry. */
export const BRIDGE_NODE_FLAGS: readonly string[] = JSON.parse(
  readFileSync(new URL("../../bridge/node-flags.json", import.meta.url), "utf8"),
) as string[];
