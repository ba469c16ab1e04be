/** What the metrics read from the sessions when Prometheus scrapes. */
export interface SessionSource {
  /** Live sessions and attached StreamAudio streams. */
  counts(): { sessions: number; streams: number };
  /** Status metadata of the user's session (live or last), as GetStatus shows it. */
  status(userId: string): { readonly metadata: Readonly<Record<string, string>> } | undefined;
  /** Whether the user has a live session now. */
  isLive(userId: string): boolean;
}

/** Session figures summed over every user seen to join (see {@link createSessionTotals}). */
export interface SessionTotals {
  /** The users whose figures are summed: add each one that joins. */
  readonly users: Set<string>;
  /** The sums now, by metadata key. */
  refresh(): Record<string, number>;
}

/** How long one reading of the sessions serves the collectors of a scrape. */
const TOTALS_REUSE_MS = 100;

/**
 * Sums numeric GetStatus metadata over the users the interceptor saw join, keeping the
 * last figures of closed or replaced sessions, so the totals only grow as Prometheus
 * counters should. Every collector of a scrape calls refresh(); the sessions are read once
 * per scrape (the sums are reused for {@link TOTALS_REUSE_MS}).
 */
export function createSessionTotals(
  sessions: SessionSource,
  keys: readonly string[],
): SessionTotals {
  const users = new Set<string>();
  const closed: Record<string, number> = {};
  const last = new Map<string, Record<string, number>>();
  let cached: { readonly at: number; readonly sums: Record<string, number> } | undefined;
  return {
    users,
    refresh(): Record<string, number> {
      const now = performance.now();
      if (cached !== undefined && now - cached.at < TOTALS_REUSE_MS) return cached.sums;
      for (const userId of users) {
        const metadata = sessions.status(userId)?.metadata ?? {};
        const figures: Record<string, number> = {};
        for (const key of keys) figures[key] = Number(metadata[key] ?? 0) || 0;
        // A replacing JoinRoom starts from zero: keep what the old session had.
        const previous = last.get(userId);
        for (const key of keys) {
          if ((figures[key] ?? 0) < (previous?.[key] ?? 0)) {
            closed[key] = (closed[key] ?? 0) + (previous?.[key] ?? 0);
          }
        }
        last.set(userId, figures);
        if (!sessions.isLive(userId)) {
          for (const key of keys) closed[key] = (closed[key] ?? 0) + (figures[key] ?? 0);
          users.delete(userId);
          last.delete(userId);
        }
      }
      const sums: Record<string, number> = {};
      for (const key of keys) {
        let sum = closed[key] ?? 0;
        for (const figures of last.values()) sum += figures[key] ?? 0;
        sums[key] = sum;
      }
      cached = { at: now, sums };
      return sums;
    },
  };
}
