import { promises as dns } from "node:dns";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { BridgeError } from "./errors.js";

/** What DNS discovery needs of a resolver; `new dns.promises.Resolver()` is one. */
export interface EndpointResolver {
  /** The name's IPv4 addresses (A records). */
  resolve4(hostname: string): Promise<string[]>;
  /** The name's IPv6 addresses (AAAA records). */
  resolve6(hostname: string): Promise<string[]>;
}

/**
 * Where the bridges are found: a DNS name with one A (or AAAA) record per bridge, as a
 * Kubernetes headless Service has one per ready pod. See {@link BridgeClientOptions.discover}.
 */
export interface DiscoverOptions {
  /**
   * The name, fully qualified, e.g. `bridge-headless.mentra.svc.cluster.local`: it is
   * queried as given, without the resolv.conf search list (that is how node:dns's
   * resolve4/resolve6 work, on Node and on Bun).
   */
  readonly host: string;
  /** The bridges' port (A and AAAA records carry none), e.g. 9090. */
  readonly port: number;
  /** The endpoints' URL scheme; default "http" (h2c, as the bridge serves in a cluster). */
  readonly scheme?: "http" | "https";
  /** How often the name is looked up again (ms); default 10000. */
  readonly refreshMs?: number;
  /** How long join() (and health(), rpc) waits for the first answer (ms); default 5000. */
  readonly timeoutMs?: number;
  /**
   * Answers the lookups, e.g. a `dns.promises.Resolver` with `setServers()` called; for
   * tests. Default: a `dns.promises.Resolver({ timeout: 2000, tries: 2 })` on the
   * system's DNS servers.
   */
  readonly resolver?: EndpointResolver;
}

/** What discovery tells its owner. */
export interface DiscoveryEvents {
  /** The endpoints changed (the first answer included); `previous` is empty the first time. */
  changed(endpoints: readonly string[], previous: readonly string[]): void;
  /** A lookup failed or found no address; the endpoints found before are kept. */
  failed(error: BridgeError): void;
}

/**
 * The endpoint URL of one address: `http://10.0.0.5:9090`, `http://[fd00::5]:9090`. The
 * same address always gives the same string (IPv6 in its shortest lower-case form), so
 * the rendezvous ranking of users stays the same across lookups. Undefined for a string
 * that is not an IP address.
 */
export function endpointUrl(scheme: string, address: string, port: number): string | undefined {
  const family = net.isIP(address);
  if (family === 0) return undefined;
  try {
    const { hostname } = new URL(`${scheme}://${family === 6 ? `[${address}]` : address}:${port}`);
    return `${scheme}://${hostname}:${port}`;
  } catch {
    return undefined; // e.g. an IPv6 address with a zone id, which a URL cannot carry
  }
}

/** The endpoints of a set of addresses: deduplicated and sorted (IPv4 first). */
export function endpointsOf(
  scheme: string,
  addresses: readonly string[],
  port: number,
): readonly string[] {
  const urls = new Set<string>();
  for (const address of addresses) {
    const url = endpointUrl(scheme, address, port);
    if (url !== undefined) urls.add(url);
  }
  return [...urls].sort();
}

/** "This family has no records": not a failure. Node says ENODATA, Bun ENOTFOUND. */
function isNoRecords(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return code === "ENODATA" || code === "ENOTFOUND";
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" && !error.message.includes(code)
      ? `${code} ${error.message}`
      : error.message;
  }
  return String(error);
}

/** The error a lookup that found nothing usable becomes: Unavailable, naming the host. */
function unavailable(message: string, cause?: unknown): ConnectError {
  return new ConnectError(message, Code.Unavailable, undefined, undefined, cause);
}

/**
 * Finds the bridges by DNS: looks the name up (A and AAAA) now and every `refreshMs`
 * after, and reports a changed set of endpoints. A lookup that fails, or finds no
 * address, keeps the set found before (and is reported). `close()` stops it.
 */
export class DnsDiscovery {
  readonly host: string;
  private readonly port: number;
  private readonly scheme: string;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly resolver: EndpointResolver;
  /** A resolver of our own, whose queries close() cancels. */
  private readonly ownResolver: dns.Resolver | undefined;
  private current: readonly string[] | undefined;
  private lastError: BridgeError | undefined;
  private inflight: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly life = new AbortController();

  constructor(
    options: DiscoverOptions,
    private readonly events: DiscoveryEvents,
  ) {
    if (typeof options.host !== "string" || options.host.trim() === "") {
      throw new RangeError("discover.host must be a DNS name");
    }
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535) {
      throw new RangeError(`discover.port must be a port number, not ${options.port}`);
    }
    const refreshMs = options.refreshMs ?? 10_000;
    const timeoutMs = options.timeoutMs ?? 5_000;
    if (!(refreshMs > 0) || !Number.isFinite(refreshMs)) {
      throw new RangeError(`discover.refreshMs must be positive, not ${refreshMs}`);
    }
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`discover.timeoutMs must be positive, not ${timeoutMs}`);
    }
    this.host = options.host.trim();
    this.port = options.port;
    this.scheme = options.scheme ?? "http";
    this.refreshMs = refreshMs;
    this.timeoutMs = timeoutMs;
    if (options.resolver === undefined) {
      this.ownResolver = new dns.Resolver({ timeout: 2_000, tries: 2 });
      this.resolver = this.ownResolver;
    } else {
      this.ownResolver = undefined;
      this.resolver = options.resolver;
    }
  }

  /** The endpoints found by the last good lookup (empty before the first). */
  get endpoints(): readonly string[] {
    return this.current ?? [];
  }

  /** Whether a refresh is scheduled (false once closed). */
  get scheduled(): boolean {
    return this.timer !== undefined;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.life.signal.aborted;
  }

  /** Starts the first lookup (the next ones follow every refreshMs). */
  start(): void {
    void this.refresh();
  }

  /**
   * Looks the name up now (or joins the lookup in flight); resolves once it is done.
   * Never rejects: a failure is reported through `events.failed`.
   */
  refresh(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inflight ??= this.lookup()
      .catch((error: unknown) =>
        this.fail(`DNS lookup of ${this.host} failed: ${describeError(error)}`, error),
      )
      .finally(() => {
        this.inflight = undefined;
        this.schedule();
      });
    return this.inflight;
  }

  /**
   * Resolves once there are endpoints: at once after a good lookup, else after the lookup
   * in flight (or a new one). Rejects with a ConnectError, Code.Unavailable, naming the
   * host, when that lookup found none or did not answer within `timeoutMs`; with the
   * signal's reason when it aborts; with a BridgeError `closed` after close().
   */
  async ready(signal?: AbortSignal): Promise<void> {
    if (this.current !== undefined) return;
    if (this.closed) throw this.closedError();
    if (signal?.aborted) throw ConnectError.from(signal.reason);
    const lookup = this.refresh();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const outcome = await new Promise<"done" | "timeout" | "aborted" | "closed">((resolve) => {
      void lookup.then(() => resolve("done"));
      timer = setTimeout(() => resolve("timeout"), this.timeoutMs);
      onAbort = () => resolve(signal?.aborted ? "aborted" : "closed");
      signal?.addEventListener("abort", onAbort, { once: true });
      this.life.signal.addEventListener("abort", onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort !== undefined) {
      signal?.removeEventListener("abort", onAbort);
      this.life.signal.removeEventListener("abort", onAbort);
    }
    if (this.current !== undefined) return;
    switch (outcome) {
      case "aborted":
        throw ConnectError.from(signal?.reason);
      case "closed":
        throw this.closedError();
      case "timeout":
        throw unavailable(
          `no bridge endpoints: DNS gave no answer for ${this.host} within ${this.timeoutMs} ms`,
        );
      case "done":
        throw unavailable(
          `no bridge endpoints: ${this.lastError?.message ?? `DNS lookup of ${this.host} failed`}`,
          this.lastError,
        );
    }
  }

  /** Stops the refreshes (and cancels the own resolver's queries). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.life.abort();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.ownResolver?.cancel();
  }

  private closedError(): BridgeError {
    return new BridgeError("closed", `the client is closed (DNS discovery of ${this.host})`);
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timer = undefined;
      void this.refresh();
    }, this.refreshMs);
    // A refresh alone must not keep the process alive.
    timer.unref?.();
    this.timer = timer;
  }

  private async lookup(): Promise<void> {
    const query = (resolve: (host: string) => Promise<string[]>) =>
      Promise.resolve().then(() => resolve.call(this.resolver, this.host));
    const answers = await Promise.allSettled([
      query(this.resolver.resolve4),
      query(this.resolver.resolve6),
    ]);
    if (this.closed) return;
    const addresses: string[] = [];
    const failures: unknown[] = [];
    for (const answer of answers) {
      if (answer.status === "fulfilled") addresses.push(...answer.value);
      else if (!isNoRecords(answer.reason)) failures.push(answer.reason);
    }
    const endpoints = endpointsOf(this.scheme, addresses, this.port);
    const failure = failures.length === 0 ? undefined : failures.map(describeError).join("; ");
    // One family failing (a timeout, SERVFAIL) while the other answered is a failed
    // lookup: using half the set would move the other half's users for nothing. Only
    // when nothing was found yet is half a set better than none.
    if (failure !== undefined && (this.current !== undefined || endpoints.length === 0)) {
      this.fail(`DNS lookup of ${this.host} failed: ${failure}`, failures[0]);
      return;
    }
    if (endpoints.length === 0) {
      this.fail(`DNS lookup of ${this.host} found no A or AAAA records`);
      return;
    }
    if (failure !== undefined) {
      this.fail(`DNS lookup of ${this.host} partly failed (using what answered): ${failure}`);
    } else {
      this.lastError = undefined;
    }
    const previous = this.current ?? [];
    if (previous.length === endpoints.length && previous.every((e, i) => e === endpoints[i])) {
      return;
    }
    this.current = endpoints;
    this.events.changed(endpoints, previous);
  }

  private fail(message: string, cause?: unknown): void {
    if (this.closed) return;
    const kept =
      this.current === undefined
        ? ""
        : `; keeping the ${this.current.length} endpoints found before`;
    const error = new BridgeError("unavailable", `${message}${kept}`, {
      code: Code.Unavailable,
      ...(cause === undefined ? {} : { cause }),
    });
    this.lastError = error;
    this.events.failed(error);
  }
}
