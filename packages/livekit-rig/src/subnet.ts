import { randomInt } from "node:crypto";
import { run } from "./exec.js";

/** A /30 link between the root namespace and a test namespace. */
export interface VethSubnet {
  /** Address of the root-namespace end, e.g. 10.213.7.1. */
  hostIp: string;
  /** Address of the namespace end, where livekit-server listens, e.g. 10.213.7.2. */
  nsIp: string;
  /** Prefix length of both addresses. */
  prefix: 30;
}

// Pools the rig draws its /30 links from. Addresses here belong only to the
// namespaces the rig itself creates; a pool that overlaps any route the machine
// already has is skipped, so we never shadow a real network.
const POOLS = ["10.213.0.0", "172.30.0.0", "192.168.213.0"] as const;
const POOL_PREFIX = { "10.213.0.0": 16, "172.30.0.0": 16, "192.168.213.0": 24 } as const;

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

function toIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

interface Range {
  start: number;
  end: number;
}

function rangeOf(cidr: string): Range | undefined {
  const [ip, bits] = cidr.includes("/") ? cidr.split("/") : [cidr, "32"];
  if (ip === undefined || bits === undefined || !/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return undefined;
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(toInt(ip) / size) * size;
  return { start, end: start + size - 1 };
}

const overlaps = (a: Range, b: Range) => a.start <= b.end && b.start <= a.end;

async function routedRanges(): Promise<Range[]> {
  const routes = JSON.parse(await run("ip", ["-j", "-4", "route", "show", "table", "all"])) as {
    dst: string;
  }[];
  return routes.flatMap((r) => {
    const range = r.dst === "default" ? undefined : rangeOf(r.dst);
    return range ? [range] : [];
  });
}

/**
 * Picks a random /30 that no route on this machine covers yet, so parallel runs
 * (and leftovers) never collide and no real network is shadowed.
 */
export async function pickSubnet(): Promise<VethSubnet> {
  const taken = await routedRanges();
  for (const pool of POOLS) {
    const poolRange = rangeOf(`${pool}/${POOL_PREFIX[pool]}`);
    if (!poolRange) continue;
    // A pool that overlaps a route wider than one of our /30 links (the
    // machine's own LAN, say) is skipped whole.
    if (taken.some((r) => r.end - r.start > 3 && overlaps(r, poolRange))) continue;
    const slots = (poolRange.end - poolRange.start + 1) / 4;
    for (let attempt = 0; attempt < 64; attempt++) {
      const base = poolRange.start + randomInt(1, slots) * 4;
      const candidate = { start: base, end: base + 3 };
      if (taken.some((r) => overlaps(r, candidate))) continue;
      return { hostIp: toIp(base + 1), nsIp: toIp(base + 2), prefix: 30 };
    }
  }
  throw new Error("no free /30 subnet left for a test namespace (every pool overlaps a route)");
}
