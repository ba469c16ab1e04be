import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { run, runSyncQuietly } from "./exec.js";
import { pickSubnet, type VethSubnet } from "./subnet.js";

/** Every namespace the rig creates is named `${NETNS_PREFIX}${ownerPid}-${random}`. */
export const NETNS_PREFIX = "mlk-";

/** A network namespace joined to the root namespace by one veth pair. */
export interface TestNetns extends VethSubnet {
  /** The namespace's name, for `ip netns exec`. */
  name: string;
  /** The veth end inside the namespace. */
  nsInterface: string;
  /** The veth end in the root namespace. */
  hostInterface: string;
  /** Kills what still runs inside and deletes the namespace (and so the veth pair). Idempotent. */
  destroy(): Promise<void>;
  /** Synchronous {@link destroy} for `process.on("exit")`. Idempotent. */
  destroySync(): void;
}

/** Why the rig cannot isolate here, or undefined when it can (root on Linux with iproute2). */
export async function isolationUnavailableReason(): Promise<string | undefined> {
  if (process.platform !== "linux")
    return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network namespaces need root (run as root, or opt out)";
  try {
    await run("ip", ["netns", "list"]);
  } catch (err) {
    return `the 'ip' command (iproute2) is not usable: ${(err as Error).message}`;
  }
  return undefined;
}

/** Whether process `pid` exists (one of another user's counts too). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The processes running inside namespace `name`; none when it is gone. */
export function pidsInNamespace(name: string): number[] {
  return runSyncQuietly("ip", ["netns", "pids", name])
    .split("\n")
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
}

/** The namespaces the rig created for process `ownerPid` (named after it); throws if `ip` fails. */
export function namespacesOwnedBy(ownerPid: number): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(`${NETNS_PREFIX}${ownerPid}-`));
}

function killAllInside(name: string): void {
  for (const pid of pidsInNamespace(name)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * Removes namespaces left by earlier runs whose owning process is gone (a
 * crashed test, a SIGKILLed `npm start`), with everything still running inside.
 */
export async function removeLeftoverNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  const listing = await run("ip", ["netns", "list"]);
  for (const line of listing.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(NETNS_PREFIX)) continue;
    const owner = Number(name.slice(NETNS_PREFIX.length).split("-")[0]);
    if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue;
    killAllInside(name);
    runSyncQuietly("ip", ["netns", "del", name]);
    removed.push(name);
  }
  return removed;
}

// Run by the guard: waits for its stdin to close, then removes what it was given.
const GUARD_SCRIPT = [
  "read -r _ || true",
  'for pid in $(ip netns pids "$1" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done',
  'ip netns del "$1" 2>/dev/null',
  'ip link del "$2" 2>/dev/null',
  "shift 2",
  '[ "$#" -gt 0 ] && rm -rf -- "$@"',
  "exit 0",
].join("\n");

/**
 * Starts a small process of its own session that removes the namespace (and `paths`) once
 * our end of its stdin closes: when we destroy the namespace, and when we die however we
 * die (an uncaught exception with every descriptor in use, where an exit handler cannot
 * spawn `ip`; SIGKILL, where no handler runs). Returns the function that releases it.
 */
function startGuard(name: string, hostInterface: string, paths: readonly string[]): () => void {
  let release = () => {};
  try {
    const guard = spawn("sh", ["-c", GUARD_SCRIPT, "mlk-guard", name, hostInterface, ...paths], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
    });
    guard.on("error", () => {});
    guard.stdin?.on("error", () => {});
    guard.unref();
    // The pipe must not keep our process alive either.
    (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    release = () => guard.stdin?.end();
  } catch {
    // No guard: the exit handler and the next start's sweep remain.
  }
  return release;
}

/** Options of {@link createNetns}. */
export interface CreateNetnsOptions {
  /** Files or folders to remove with the namespace, even when we crash. */
  readonly alsoRemove?: readonly string[];
}

/**
 * Creates a namespace with a veth pair to the root namespace and a /30 of its
 * own. Nothing inside has a default route: traffic from the namespace can only
 * reach the root namespace's end of the link. A guard process removes it should we die
 * without destroying it.
 */
export async function createNetns(options: CreateNetnsOptions = {}): Promise<TestNetns> {
  const id = randomBytes(3).toString("hex");
  const name = `${NETNS_PREFIX}${process.pid}-${id}`;
  const hostInterface = `mlkh${id}`;
  const nsInterface = `mlkn${id}`;
  const subnet = await pickSubnet();
  let destroyed = false;
  const releaseGuard = startGuard(name, hostInterface, options.alsoRemove ?? []);
  const destroySync = () => {
    if (destroyed) return;
    destroyed = true;
    killAllInside(name);
    runSyncQuietly("ip", ["netns", "del", name]);
    // Deleting the namespace deletes its veth end, and with it the peer; this
    // catches a half-built pair whose peer never moved into the namespace.
    runSyncQuietly("ip", ["link", "del", hostInterface]);
    // Whatever the commands above could not do (EMFILE), the guard does now.
    releaseGuard();
  };
  try {
    await run("ip", ["netns", "add", name]);
    await run("ip", ["link", "add", hostInterface, "type", "veth", "peer", "name", nsInterface]);
    await run("ip", ["link", "set", nsInterface, "netns", name]);
    // WebRTC gathers every address it finds; IPv6 link-local ones on the veth
    // only slow ICE down, so the link carries IPv4 alone.
    await run("sysctl", ["-qw", `net.ipv6.conf.${hostInterface}.disable_ipv6=1`]);
    await run("ip", ["addr", "add", `${subnet.hostIp}/${subnet.prefix}`, "dev", hostInterface]);
    await run("ip", ["link", "set", hostInterface, "up"]);
    const inNs = (...args: string[]) => run("ip", ["netns", "exec", name, ...args]);
    await inNs("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1");
    await inNs("ip", "addr", "add", `${subnet.nsIp}/${subnet.prefix}`, "dev", nsInterface);
    await inNs("ip", "link", "set", nsInterface, "up");
    await inNs("ip", "link", "set", "lo", "up");
  } catch (err) {
    destroySync();
    throw err;
  }
  return {
    ...subnet,
    name,
    nsInterface,
    hostInterface,
    destroySync,
    destroy: async () => destroySync(),
  };
}
