import { createHash } from "node:crypto";

/**
 * Rendezvous (highest-random-weight) ranking of bridge endpoints for a user: every user
 * has its own order of the endpoints, the same in every cloud process. Adding an
 * endpoint moves only the users that rank it first (about 1/n of them); removing one
 * moves only its own users, each to its next-ranked endpoint.
 */
export function rankEndpoints(userId: string, endpoints: readonly string[]): string[] {
  return endpoints
    .map((endpoint) => ({ endpoint, weight: weight(endpoint, userId) }))
    .sort((a, b) => (a.weight === b.weight ? 0 : a.weight > b.weight ? -1 : 1))
    .map((entry) => entry.endpoint);
}

function weight(endpoint: string, userId: string): bigint {
  const digest = createHash("sha256").update(endpoint).update("\0").update(userId).digest();
  return digest.readBigUInt64BE(0);
}

/** Options of {@link EndpointRouter}. */
export interface EndpointRouterOptions<T> {
  /** The bridges, e.g. ["http://bridge-0:9090", "http://bridge-1:9090"]. */
  readonly endpoints: readonly string[];
  /** Creates the client of one endpoint (called once per endpoint). */
  readonly connect: (endpoint: string) => T;
  /** How long an endpoint that failed is passed over (default 5000 ms). */
  readonly downForMs?: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

/** Which endpoint serves a user now, with failover past endpoints that are down. */
export class EndpointRouter<T> {
  private endpoints: readonly string[];
  private readonly clients = new Map<string, T>();
  private readonly downUntil = new Map<string, number>();
  private readonly downForMs: number;
  private readonly now: () => number;

  constructor(private readonly options: EndpointRouterOptions<T>) {
    if (options.endpoints.length === 0)
      throw new RangeError("at least one bridge endpoint is needed");
    this.endpoints = [...new Set(options.endpoints)];
    this.downForMs = options.downForMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** The endpoints, in the order given. */
  get all(): readonly string[] {
    return this.endpoints;
  }

  /**
   * Replaces the endpoints (e.g. after a DNS refresh); sessions move at their next
   * reconnect. An empty list is ignored. The clients of endpoints that left are forgotten
   * (sessions still on one keep theirs until they move), so a long run of pod churn does
   * not pile them up.
   */
  setEndpoints(endpoints: readonly string[]): void {
    if (endpoints.length === 0) return;
    this.endpoints = [...new Set(endpoints)];
    const kept = new Set(this.endpoints);
    for (const endpoint of [...this.clients.keys()]) {
      if (!kept.has(endpoint)) this.clients.delete(endpoint);
    }
    for (const endpoint of [...this.downUntil.keys()]) {
      if (!kept.has(endpoint)) this.downUntil.delete(endpoint);
    }
  }

  /** The user's endpoint now: the best-ranked that is not passed over (else the best). */
  pick(userId: string): { endpoint: string; client: T } {
    const ranked = rankEndpoints(userId, this.endpoints);
    const now = this.now();
    const endpoint =
      ranked.find((candidate) => (this.downUntil.get(candidate) ?? 0) <= now) ?? ranked[0];
    if (endpoint === undefined) throw new RangeError("no bridge endpoint");
    return { endpoint, client: this.clientOf(endpoint) };
  }

  /** Passes over `endpoint` for a while: it refused or dropped a connection. */
  markDown(endpoint: string): void {
    if (!this.endpoints.includes(endpoint)) return; // one that left: nothing to pass over
    this.downUntil.set(endpoint, this.now() + this.downForMs);
  }

  /** The client of one endpoint. */
  clientOf(endpoint: string): T {
    let client = this.clients.get(endpoint);
    if (client === undefined) {
      client = this.options.connect(endpoint);
      this.clients.set(endpoint, client);
    }
    return client;
  }
}
