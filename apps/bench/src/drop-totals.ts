// The drop and underrun counters of a step: GetStatus and the clients' stats per user, and
// each window's share of them (the growth since the last reading).
import type { UserPool } from "./user-pool.js";

/** A user's drop totals at the end of the last window, to take each window's share. */
export interface DropTotals {
  readonly bridge: number;
  readonly delay: number;
  readonly underruns: number;
  readonly underrunMs: number;
  /** GetStatus to_room_late_dropped_ms: cloud audio dropped to play on schedule after underruns. */
  readonly lateDropped: number;
  readonly receive: number;
  readonly send: number;
}

const NO_DROPS: DropTotals = {
  bridge: 0,
  delay: 0,
  underruns: 0,
  underrunMs: 0,
  lateDropped: 0,
  receive: 0,
  send: 0,
};

/** Every user's GetStatus metadata, in the pool's order. */
export function readStatuses(pool: UserPool): Promise<Readonly<Record<string, string>>[]> {
  return Promise.all(pool.users.map((u) => u.session.status().then((s) => s.metadata)));
}

/**
 * The drops over all users since ctx.dropsSoFar, read from `statuses` (GetStatus metadata,
 * in the pool's order) and the clients' stats; ctx.dropsSoFar moves on to now.
 */
export function takeDrops(
  ctx: { readonly pool: UserPool; readonly dropsSoFar: Map<string, DropTotals> },
  statuses: readonly Readonly<Record<string, string>>[],
): Record<keyof DropTotals, number> {
  const grown: Record<keyof DropTotals, number> = { ...NO_DROPS };
  ctx.pool.users.forEach((user, i) => {
    const before = ctx.dropsSoFar.get(user.userId) ?? NO_DROPS;
    const stats = user.session.stats();
    const status = (key: string) => Number(statuses[i]?.[key] ?? 0) || 0;
    const now: DropTotals = {
      bridge: status("cloud_dropped_ms"),
      delay: status("cloud_delay_dropped_ms"),
      underruns: status("to_room_underruns"),
      underrunMs: status("to_room_underrun_ms"),
      lateDropped: status("to_room_late_dropped_ms"),
      receive: stats.receiveDroppedMs,
      send: stats.sendDroppedMs,
    };
    for (const key of Object.keys(grown) as (keyof DropTotals)[]) {
      grown[key] += now[key] - before[key];
    }
    ctx.dropsSoFar.set(user.userId, now);
  });
  return grown;
}
