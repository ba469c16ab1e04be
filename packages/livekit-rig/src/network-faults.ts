import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { run } from "./exec.js";
import type { TestNetns } from "./netns.js";
import { netdelayBinary } from "./paths.js";

/**
 * Trouble on the one link between livekit-server's namespace and the rest of the
 * machine. Everything happens inside the rig's own namespace: its veth end goes
 * down, an nftables table there drops packets at random each way, or every packet
 * leaving it is held back. The kernel here has no netem qdisc, so the delay is made
 * by iptables NFQUEUE and a small helper (tools/netdelay) that releases each packet
 * after the delay, in order.
 */
export interface NetworkFaults {
  /** Takes the namespace's veth end down (true) or brings it back up (false). */
  setLinkDown(down: boolean): Promise<void>;
  /**
   * Drops this share of packets (0 ≤ fraction < 1), chosen at random, in each
   * direction through the link; 0 removes the rule. Needs nft (Debian's nftables).
   */
  setLoss(fraction: number): Promise<void>;
  /**
   * Holds every packet leaving livekit-server's namespace for `ms` (0 ends it), as
   * `tc netem delay` on its veth end would. Needs iptables-legacy and tools/netdelay.
   */
  setDelay(ms: number): Promise<void>;
  /** Link up, no loss, no delay: the state the rig started in. Idempotent. */
  clear(): Promise<void>;
}

const TABLE = "mentra_faults";

/** Faults for `netns`; each call resolves once the kernel applies it. */
export function networkFaults(netns: TestNetns): NetworkFaults {
  const inNs = (...args: string[]) => run("ip", ["netns", "exec", netns.name, ...args]);
  let loss = 0;
  let delayer: ChildProcess | undefined;
  const delayRule = [
    "OUTPUT",
    "-o",
    netns.nsInterface,
    "-j",
    "NFQUEUE",
    "--queue-num",
    "0",
    "--queue-bypass",
  ];
  const setDelay = async (ms: number) => {
    if (!(ms >= 0 && ms <= 10_000)) throw new RangeError(`delay must be 0..10000 ms, got ${ms}`);
    if (delayer !== undefined) {
      await inNs("iptables-legacy", "-D", ...delayRule);
      const exited = once(delayer, "exit");
      delayer.kill("SIGTERM");
      await exited;
      delayer = undefined;
    }
    if (ms === 0) return;
    const child = spawn(
      "ip",
      ["netns", "exec", netns.name, netdelayBinary(), "-queue", "0", "-delay", `${ms}ms`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`netdelay exited (${code}): ${stderr.trim()}`)),
      );
      child.once("error", reject);
    });
    await ready;
    delayer = child;
    // --queue-bypass: should the helper die, packets pass rather than vanish.
    await inNs("iptables-legacy", "-A", ...delayRule);
  };
  const setLinkDown = async (down: boolean) => {
    await run("ip", ["-n", netns.name, "link", "set", netns.nsInterface, down ? "down" : "up"]);
  };
  const setLoss = async (fraction: number) => {
    if (!(fraction >= 0 && fraction < 1)) {
      throw new RangeError(`loss must be a fraction in [0, 1), got ${fraction}`);
    }
    if (loss > 0) await inNs("nft", "delete", "table", "inet", TABLE);
    loss = 0;
    if (fraction === 0) return;
    const perMille = Math.round(fraction * 1000);
    const rule = `numgen random mod 1000 < ${perMille} drop`;
    await inNs(
      "nft",
      [
        `add table inet ${TABLE}`,
        `add chain inet ${TABLE} in { type filter hook input priority 0; }`,
        `add chain inet ${TABLE} out { type filter hook output priority 0; }`,
        `add rule inet ${TABLE} in iifname "${netns.nsInterface}" ${rule}`,
        `add rule inet ${TABLE} out oifname "${netns.nsInterface}" ${rule}`,
      ].join("; "),
    );
    loss = fraction;
  };
  return {
    setLinkDown,
    setLoss,
    setDelay,
    async clear() {
      await setDelay(0);
      await setLoss(0);
      await setLinkDown(false);
    },
  };
}
