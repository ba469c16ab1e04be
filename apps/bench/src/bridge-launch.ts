// How the bench starts the built bridge and finds it in a room: its entry, the Node flags
// every launch of the bridge uses (apps/bridge/node-flags.json, as npm start, the Dockerfile
// and the executable), and its identity.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The built apps/bridge/dist/main.js. */
export const BRIDGE_MAIN = fileURLToPath(new URL("../../bridge/dist/main.js", import.meta.url));

/** The bridge's identity in a user's room (its default LIVEKIT_IDENTITY_TEMPLATE, "cloud-agent:{userId}"). */
export const bridgeIdentity = (userId: string) => `cloud-agent:${userId}`;

/** The bridge's Node flags, before its entry. */
export const BRIDGE_NODE_FLAGS: readonly string[] = JSON.parse(
  readFileSync(new URL("../../bridge/node-flags.json", import.meta.url), "utf8"),
) as string[];
