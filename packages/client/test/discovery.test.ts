import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  DnsDiscovery,
  type EndpointResolver,
  endpointsOf,
  endpointUrl,
} from "../src/dns-discovery.js";
import { EndpointRouter, rankEndpoints } from "../src/endpoint-router.js";
import {
  type BridgeClient,
  type BridgeClientOptions,
  BridgeError,
  createBridgeClient,
} from "../src/index.js";
import { FakeBridge } from "./support/fake-bridge.js";

/** Polls `check` every 5 ms for up to `ms` (expect.poll is vitest-only; these tests also run on Bun). */
async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function dnsError(code: string, syscall = "queryA"): Error {
  return Object.assign(new Error(`${syscall} ${code} bridge.test`), { code, syscall });
}

type Answer = readonly string[] | Error | "hang";

/**
 * A resolver whose answers the test sets; counts the lookups. "hang" never answers
 * (until release()).
 */
class ScriptedResolver implements EndpointResolver {
  a: Answer = [];
  aaaa: Answer = dnsError("ENODATA", "queryAaaa");
  lookups4 = 0;
  lookups6 = 0;
  private hung: (() => void)[] = [];

  resolve4(host: string): Promise<string[]> {
    this.lookups4++;
    return this.answer(this.a, host);
  }

  resolve6(host: string): Promise<string[]> {
    this.lookups6++;
    return this.answer(this.aaaa, host);
  }

  /** Fails every hung lookup (so nothing stays pending after a test). */
  release(): void {
    for (const fail of this.hung.splice(0)) fail();
  }

  private answer(answer: Answer, host: string): Promise<string[]> {
    if (answer === "hang") {
      return new Promise((_, reject) =>
        this.hung.push(() => reject(dnsError("ECANCELLED", `released ${host}`))),
      );
    }
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve([...answer]);
  }
}

/** Discovery with recorded events; `refreshMs` long unless a test wants the timer. */
function discover(
  resolver: ScriptedResolver,
  options: { refreshMs?: number; timeoutMs?: number } = {},
) {
  const changes: { endpoints: readonly string[]; previous: readonly string[] }[] = [];
  const failures: BridgeError[] = [];
  const discovery = new DnsDiscovery(
    { host: "bridge.test", port: 9090, resolver, refreshMs: 60_000, ...options },
    {
      changed: (endpoints, previous) => changes.push({ endpoints, previous }),
      failed: (error) => failures.push(error),
    },
  );
  opened.push(discovery);
  return { discovery, changes, failures };
}

const opened: DnsDiscovery[] = [];
const resolvers: ScriptedResolver[] = [];
function resolver(): ScriptedResolver {
  const made = new ScriptedResolver();
  resolvers.push(made);
  return made;
}

afterEach(() => {
  for (const discovery of opened.splice(0)) discovery.close();
  for (const made of resolvers.splice(0)) made.release();
});

describe("endpoint URLs from addresses", () => {
  it("puts IPv6 in brackets, normalised, and skips what is not an address", () => {
    expect(endpointUrl("http", "10.0.0.5", 9090)).toBe("http://10.0.0.5:9090");
    expect(endpointUrl("http", "fd00::5", 9090)).toBe("http://[fd00::5]:9090");
    expect(endpointUrl("https", "FD00:0:0:0::05", 443)).toBe("https://[fd00::5]:443");
    expect(endpointUrl("http", "bridge-0", 9090)).toBeUndefined();
  });

  it("gives one sorted, deduplicated list for the same set in any order", () => {
    const a = endpointsOf("http", ["10.0.0.7", "fd00::1", "10.0.0.5", "10.0.0.7"], 9090);
    const b = endpointsOf("http", ["fd00:0::1", "10.0.0.5", "10.0.0.7"], 9090);
    expect(a).toEqual(["http://10.0.0.5:9090", "http://10.0.0.7:9090", "http://[fd00::1]:9090"]);
    expect(b).toEqual(a);
  });
});

describe("DnsDiscovery (injected resolver)", () => {
  it("reports a new set, and nothing when a lookup finds the same set again", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.6", "10.0.0.5"];
    dns.aaaa = ["fd00::9"];
    const { discovery, changes, failures } = discover(dns);
    await discovery.refresh();
    const first = ["http://10.0.0.5:9090", "http://10.0.0.6:9090", "http://[fd00::9]:9090"];
    expect(changes).toEqual([{ endpoints: first, previous: [] }]);
    expect(discovery.endpoints).toEqual(first);

    dns.a = ["10.0.0.5", "10.0.0.6", "10.0.0.5"]; // same set, other order, a duplicate
    await discovery.refresh();
    expect(changes).toHaveLength(1);

    dns.a = ["10.0.0.5"];
    await discovery.refresh();
    expect(changes).toHaveLength(2);
    expect(changes[1]).toEqual({
      endpoints: ["http://10.0.0.5:9090", "http://[fd00::9]:9090"],
      previous: first,
    });
    expect(failures).toEqual([]);
    expect(dns.lookups4).toBe(3);
    expect(dns.lookups6).toBe(3);
  });

  it("takes a family with no records (ENODATA on Node, ENOTFOUND on Bun) as empty, not failed", async () => {
    for (const code of ["ENODATA", "ENOTFOUND"]) {
      const dns = resolver();
      dns.a = ["10.0.0.5"];
      dns.aaaa = dnsError(code, "queryAaaa");
      const { discovery, changes, failures } = discover(dns);
      await discovery.refresh();
      expect(changes.map((c) => c.endpoints)).toEqual([["http://10.0.0.5:9090"]]);
      expect(failures).toEqual([]);
    }
  });

  it("keeps the last set when a lookup fails or comes back empty, and reports it", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.5", "10.0.0.6"];
    const { discovery, changes, failures } = discover(dns);
    await discovery.refresh();
    const good = ["http://10.0.0.5:9090", "http://10.0.0.6:9090"];

    dns.a = dnsError("ETIMEOUT");
    await discovery.refresh();
    dns.a = dnsError("ENOTFOUND"); // NXDOMAIN: both families empty
    dns.aaaa = dnsError("ENOTFOUND", "queryAaaa");
    await discovery.refresh();
    dns.a = ["10.0.0.5"]; // one family answers, the other times out: not trusted
    dns.aaaa = dnsError("ETIMEOUT", "queryAaaa");
    await discovery.refresh();

    expect(changes).toHaveLength(1);
    expect(discovery.endpoints).toEqual(good);
    expect(failures.map((f) => f.message)).toEqual([
      "DNS lookup of bridge.test failed: queryA ETIMEOUT bridge.test; keeping the 2 endpoints found before",
      "DNS lookup of bridge.test found no A or AAAA records; keeping the 2 endpoints found before",
      "DNS lookup of bridge.test failed: queryAaaa ETIMEOUT bridge.test; keeping the 2 endpoints found before",
    ]);
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(BridgeError);
      expect(failure.kind).toBe("unavailable");
      expect(failure.code).toBe(Code.Unavailable);
    }

    dns.a = ["10.0.0.6"];
    dns.aaaa = dnsError("ENODATA", "queryAaaa");
    await discovery.refresh();
    expect(changes[1]?.endpoints).toEqual(["http://10.0.0.6:9090"]);
    expect(changes[1]?.previous).toEqual(good);
  });

  it("uses what answered when it has nothing yet and one family failed", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.5"];
    dns.aaaa = dnsError("ESERVFAIL", "queryAaaa");
    const { discovery, changes, failures } = discover(dns);
    await discovery.refresh();
    expect(changes.map((c) => c.endpoints)).toEqual([["http://10.0.0.5:9090"]]);
    expect(failures.map((f) => f.message)).toEqual([
      "DNS lookup of bridge.test partly failed (using what answered): queryAaaa ESERVFAIL bridge.test",
    ]);
  });

  it("looks up again every refreshMs on an unref'd timer, and close() stops it", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.5"];
    const { discovery, changes } = discover(dns, { refreshMs: 20 });
    discovery.start();
    await until(() => dns.lookups4 >= 3);
    expect(discovery.scheduled).toBe(true);
    const timer = (discovery as unknown as { timer: { hasRef(): boolean } | undefined }).timer;
    expect(timer?.hasRef()).toBe(false);

    dns.a = ["10.0.0.5", "10.0.0.6"];
    await until(() => changes.length === 2);
    expect(changes[1]?.endpoints).toEqual(["http://10.0.0.5:9090", "http://10.0.0.6:9090"]);

    discovery.close();
    expect(discovery.scheduled).toBe(false);
    const after = dns.lookups4;
    await sleep(150); // 7 refresh periods
    expect(dns.lookups4).toBe(after);
    await discovery.refresh(); // does nothing once closed
    expect(dns.lookups4).toBe(after);
  });

  it("reports nothing from a lookup still in flight at close(), and schedules nothing after it", async () => {
    const dns = resolver();
    dns.a = "hang";
    const { discovery, changes, failures } = discover(dns, { refreshMs: 20 });
    discovery.start();
    await until(() => dns.lookups4 === 1);
    discovery.close();
    dns.release();
    await sleep(100);
    expect(changes).toEqual([]);
    expect(failures).toEqual([]);
    expect(discovery.scheduled).toBe(false);
    expect(dns.lookups4).toBe(1);
  });

  it("ready() waits for the first answer", async () => {
    const dns = resolver();
    let answer: (addresses: string[]) => void = () => {};
    dns.resolve4 = () => {
      dns.lookups4++;
      return new Promise((resolve) => {
        answer = resolve;
      });
    };
    const { discovery } = discover(dns);
    discovery.start();
    let ready = false;
    const waiting = discovery.ready().then(() => {
      ready = true;
    });
    await sleep(30);
    expect(ready).toBe(false);
    answer(["10.0.0.5"]);
    await waiting;
    expect(discovery.endpoints).toEqual(["http://10.0.0.5:9090"]);
    expect(dns.lookups4).toBe(1); // it joined the lookup in flight
  });

  it("ready() rejects with Code.Unavailable naming the host when the lookup fails or hangs", async () => {
    const failing = resolver();
    failing.a = dnsError("ESERVFAIL");
    const first = discover(failing);
    const error = await first.discovery.ready().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).rawMessage).toBe(
      "no bridge endpoints: DNS lookup of bridge.test failed: queryA ESERVFAIL bridge.test",
    );

    const hanging = resolver();
    hanging.a = "hang";
    const second = discover(hanging, { timeoutMs: 100 });
    const started = Date.now();
    const timedOut = await second.discovery.ready().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((timedOut as ConnectError).code).toBe(Code.Unavailable);
    expect((timedOut as ConnectError).rawMessage).toBe(
      "no bridge endpoints: DNS gave no answer for bridge.test within 100 ms",
    );

    // The caller's signal and close() end the wait too.
    const controller = new AbortController();
    const aborted = second.discovery.ready(controller.signal).catch((e: unknown) => e);
    controller.abort();
    expect(ConnectError.from(await aborted).code).toBe(Code.Canceled);
    const closing = second.discovery.ready().catch((e: unknown) => e);
    second.discovery.close();
    expect(await closing).toMatchObject({ kind: "closed" });
  });
});

describe("a client with discover (injected resolver, in-memory bridges)", () => {
  const noJitter = { initialMs: 10, maxMs: 40, random: () => 0.5 };
  const users = Array.from({ length: 200 }, (_, i) => `user-${i}@example.com`);
  const clients: BridgeClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    vi.restoreAllMocks();
  });

  function start(dns: ScriptedResolver, discover: Partial<BridgeClientOptions["discover"]> = {}) {
    const bridges = new Map<string, FakeBridge>();
    const bridgeOf = (endpoint: string) => {
      let bridge = bridges.get(endpoint);
      if (bridge === undefined) {
        bridge = new FakeBridge();
        bridges.set(endpoint, bridge);
      }
      return bridge;
    };
    const client = createBridgeClient({
      discover: { host: "bridge.test", port: 9090, resolver: dns, refreshMs: 60_000, ...discover },
      transport: (endpoint) => bridgeOf(endpoint).transport,
      backoff: noJitter,
    });
    clients.push(client);
    return { client, bridgeOf };
  }

  it("joins each user on its best-ranked discovered bridge, after the first lookup", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.7", "10.0.0.5", "10.0.0.6"];
    const { client, bridgeOf } = start(dns);
    const found = ["http://10.0.0.5:9090", "http://10.0.0.6:9090", "http://10.0.0.7:9090"];
    for (const user of users.slice(0, 9)) {
      const session = await client.join({ userId: user, roomName: "r" });
      const best = rankEndpoints(user, found)[0] ?? "";
      expect(session.stats().endpoint).toBe(best);
      expect(bridgeOf(best).joined.has(user)).toBe(true);
    }
    expect(client.endpoints).toEqual(found);
    expect(dns.lookups4).toBe(1);
  });

  it("calls setEndpoints only when the set changed, and emits endpoints", async () => {
    const setEndpoints = vi.spyOn(EndpointRouter.prototype, "setEndpoints");
    const dns = resolver();
    dns.a = ["10.0.0.5", "10.0.0.6"];
    const { client } = start(dns, { refreshMs: 20 });
    const events: {
      endpoints: readonly string[];
      added: readonly string[];
      removed: readonly string[];
    }[] = [];
    client.on("endpoints", (info) => events.push(info));
    await client.join({ userId: users[0] ?? "", roomName: "r" });
    const lookups = dns.lookups4;
    await until(() => dns.lookups4 >= lookups + 3); // three refreshes with the same answer
    expect(setEndpoints).not.toHaveBeenCalled();

    dns.a = ["10.0.0.6", "10.0.0.8"];
    await until(() => setEndpoints.mock.calls.length === 1);
    expect(setEndpoints.mock.calls[0]?.[0]).toEqual([
      "http://10.0.0.6:9090",
      "http://10.0.0.8:9090",
    ]);
    expect(client.endpoints).toEqual(["http://10.0.0.6:9090", "http://10.0.0.8:9090"]);
    expect(events.at(-1)).toEqual({
      endpoints: ["http://10.0.0.6:9090", "http://10.0.0.8:9090"],
      added: ["http://10.0.0.8:9090"],
      removed: ["http://10.0.0.5:9090"],
    });
    const settled = dns.lookups4;
    await until(() => dns.lookups4 >= settled + 3);
    expect(setEndpoints).toHaveBeenCalledTimes(1);
  });

  it("reports failed lookups as error events and keeps routing on the last set", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.5", "10.0.0.6"];
    const { client, bridgeOf } = start(dns, { refreshMs: 20 });
    const errors: BridgeError[] = [];
    client.on("error", (error) => errors.push(error));
    await client.join({ userId: users[1] ?? "", roomName: "r" });
    dns.a = dnsError("ETIMEOUT");
    await until(() => errors.length >= 2);
    expect(errors[0]?.kind).toBe("unavailable");
    expect(errors[0]?.message).toContain("bridge.test");
    expect(client.endpoints).toEqual(["http://10.0.0.5:9090", "http://10.0.0.6:9090"]);
    const user = users[2] ?? "";
    const session = await client.join({ userId: user, roomName: "r" });
    const best = rankEndpoints(user, client.endpoints)[0] ?? "";
    expect(session.stats().endpoint).toBe(best);
    expect(bridgeOf(best).joined.has(user)).toBe(true);
  });

  it("rejects join with a BridgeError unavailable (Code.Unavailable) naming the host when DNS never answers", async () => {
    const dns = resolver();
    dns.a = "hang";
    dns.aaaa = "hang";
    const { client } = start(dns, { timeoutMs: 150 });
    const started = Date.now();
    const error = await client.join({ userId: "u", roomName: "r" }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(BridgeError);
    expect((error as BridgeError).kind).toBe("unavailable");
    expect((error as BridgeError).code).toBe(Code.Unavailable);
    expect((error as BridgeError).message).toBe(
      "no bridge endpoints: DNS gave no answer for bridge.test within 150 ms",
    );
    // health() waits the same way.
    const health = await client.health().catch((e: unknown) => e);
    expect((health as BridgeError).kind).toBe("unavailable");
  });

  it("close() stops the refreshes and drops the client's listeners", async () => {
    const dns = resolver();
    dns.a = ["10.0.0.5"];
    const { client } = start(dns, { refreshMs: 20 });
    const events: unknown[] = [];
    client.on("endpoints", (info) => events.push(info));
    const session = await client.join({ userId: "u", roomName: "r" });
    await until(() => dns.lookups4 >= 2);
    await client.close();
    expect(session.closed).toBe(true);
    const after = dns.lookups4;
    dns.a = ["10.0.0.6"];
    await sleep(150);
    expect(dns.lookups4).toBe(after);
    expect(events).toHaveLength(1);
  });

  it("takes discover or endpoints, not both", () => {
    expect(() =>
      createBridgeClient({
        endpoints: ["http://a:1"],
        discover: { host: "bridge.test", port: 9090 },
      }),
    ).toThrow(RangeError);
    expect(() => createBridgeClient({ discover: { host: "bridge.test", port: 0 } })).toThrow(
      RangeError,
    );
  });
});

describe("EndpointRouter.setEndpoints", () => {
  it("forgets the clients and down marks of endpoints that left, and ignores an empty list", () => {
    let now = 0;
    let connects = 0;
    const router = new EndpointRouter({
      endpoints: ["http://a:1", "http://b:1"],
      connect: (endpoint) => ({ endpoint, serial: ++connects }),
      downForMs: 1_000,
      now: () => now,
    });
    const first = router.clientOf("http://b:1");
    router.markDown("http://b:1");
    router.setEndpoints(["http://a:1"]);
    router.setEndpoints([]);
    expect(router.all).toEqual(["http://a:1"]);
    router.markDown("http://b:1"); // left: not recorded
    router.setEndpoints(["http://a:1", "http://b:1"]);
    // b came back: a fresh client, and not passed over although its mark had not expired.
    expect(router.clientOf("http://b:1")).not.toBe(first);
    expect(router.clientOf("http://b:1").serial).toBe(2);
    const user = ["u1", "u2", "u3", "u4", "u5", "u6"].find(
      (u) => rankEndpoints(u, router.all)[0] === "http://b:1",
    );
    expect(user).toBeDefined();
    now = 10;
    expect(router.pick(user ?? "").endpoint).toBe("http://b:1");
  });
});
