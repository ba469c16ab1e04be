import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

interface ToolVersions {
  "livekit-server": string;
  grpcurl: string;
}

function toolVersions(): ToolVersions {
  // tools.json at the repository root pins every tool; this file sits one
  // folder below the package root in both src/ and dist/.
  const url = new URL("../../../tools.json", import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as ToolVersions;
}

function toolsCache(): string {
  const env = process.env;
  return (
    env.MENTRA_TOOLS_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "mentra-bridge")
  );
}

/**
 * Where the pinned livekit-server binary is: `LIVEKIT_SERVER_BIN` when set,
 * otherwise the cache that `scripts/bootstrap.sh` builds it into.
 */
export function livekitServerBinary(): string {
  const fromEnv = process.env.LIVEKIT_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const version = toolVersions()["livekit-server"];
  return join(toolsCache(), `livekit-server-${version}`, "livekit-server");
}

/**
 * Where the netdelay helper (tools/netdelay) is: `NETDELAY_BIN` when set, otherwise
 * the cache that `scripts/bootstrap.sh` builds it into.
 */
export function netdelayBinary(): string {
  return process.env.NETDELAY_BIN || join(toolsCache(), "netdelay", "netdelay");
}
