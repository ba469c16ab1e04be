import { run } from "./exec.js";
import type { TestNetns } from "./netns.js";

/**
 * Trouble on the one link between livekit-server's namespace and the rest of the
 * machine. Everything happens inside the rig's own namespace: its veth end goes
 * down, or an nftables table there drops packets at random each way. The kernel
 * here has no netem qdisc, so there is no delay fault.
 */
export interface NetworkFaults {
  /** Takes the namespace's veth end down (true) or brings it back up (false). */
  setLinkDown(down: boolean): Promise<void>;
  /**
   * Drops this share of packets (0 ≤ fraction < 1), chosen at random, in each
   * direction through the link; 0 removes the rule. Needs nft (Debian's nftables).
   */
  setLoss(fraction: number): Promise<void>;
  /** Link up and no loss: the state the rig started in. Idempotent. */
  clear(): Promise<void>;
}

const TABLE = "mentra_faults";

/** Faults for `netns`; each call resolves once the kernel applies it. */
export function networkFaults(netns: TestNetns): NetworkFaults {
  const inNs = (...args: string[]) => run("ip", ["netns", "exec", netns.name, ...args]);
  let loss = 0;
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
    async clear() {
      await setLoss(0);
      await setLinkDown(false);
    },
  };
}
