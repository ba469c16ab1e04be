import { promises as dns } from "node:dns";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  type BridgeClient,
  type BridgeSession,
  createBridgeClient,
  rankEndpoints,
} from "../src/index.js";
import { FakeBridge } from "./support/fake-bridge.js";
import { LoopbackDns } from "./support/loopback-dns.js";

// Everything here stays on loopback: the DNS server listens on 127.0.0.1, the resolver asks
// only it, and the bridges listen on 127.0.0.2 and 127.0.0.3 (all of 127/8 is loopback).

/** Polls `check` every 5 ms for up to `ms` (expect.poll is vitest-only; these tests also run on Bun). */
async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const NAME = "bridge-headless.mentra.svc.cluster.local";

interface Listening {
  readonly bridge: FakeBridge;
  readonly close: () => Promise<void>;
}

/** Two bridges on one port, at 127.0.0.2 and 127.0.0.3 (DNS gives addresses, not ports). */
async function twoBridges(): Promise<{ port: number; at: Map<string, Listening> }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = new FakeBridge();
    const a = await first.listen("127.0.0.2", 0);
    const second = new FakeBridge();
    try {
      const b = await second.listen("127.0.0.3", a.port);
      return {
        port: a.port,
        at: new Map([
          ["127.0.0.2", { bridge: first, close: a.close }],
          ["127.0.0.3", { bridge: second, close: b.close }],
        ]),
      };
    } catch {
      await a.close(); // the port is taken on 127.0.0.3: try another
    }
  }
  throw new Error("no port free on both 127.0.0.2 and 127.0.0.3");
}

describe("discover against a real DNS server on loopback", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it("joins users on the addresses DNS gives, and moves only a dropped address's users, at their next reconnect", async () => {
    const server = await LoopbackDns.start();
    cleanups.push(() => server.close());
    server.set(NAME, { a: ["127.0.0.3", "127.0.0.2"] }); // no AAAA: answered NOERROR, empty
    const { port, at } = await twoBridges();
    for (const { close } of at.values()) cleanups.push(close);
    const bridgeAt = (address: string) => {
      const found = at.get(address)?.bridge;
      if (found === undefined) throw new Error(address);
      return found;
    };
    const url2 = `http://127.0.0.2:${port}`;
    const url3 = `http://127.0.0.3:${port}`;

    const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server.server]);
    const client: BridgeClient = createBridgeClient({
      discover: { host: NAME, port, resolver, refreshMs: 100 },
      backoff: { initialMs: 10, maxMs: 40, random: () => 0.5 },
    });
    cleanups.push(() => client.close());
    const changes: { removed: readonly string[]; added: readonly string[] }[] = [];
    const errors: unknown[] = [];
    client.on("endpoints", ({ added, removed }) => changes.push({ added, removed }));
    client.on("error", (error) => errors.push(error));

    // Three users whose best bridge is .2 and three whose best is .3.
    const candidates = Array.from({ length: 100 }, (_, i) => `user-${i}@example.com`);
    const homeOf = (user: string) => rankEndpoints(user, [url2, url3])[0];
    const onTwo = candidates.filter((user) => homeOf(user) === url2).slice(0, 3);
    const onThree = candidates.filter((user) => homeOf(user) === url3).slice(0, 3);
    expect(onTwo).toHaveLength(3);
    expect(onThree).toHaveLength(3);

    const sessions = new Map<string, BridgeSession>();
    const reconnected = new Map<string, { rejoined: boolean }[]>();
    for (const user of [...onTwo, ...onThree]) {
      const session = await within(
        5_000,
        `join ${user}`,
        client.join({ userId: user, roomName: `room-${user}` }),
      );
      sessions.set(user, session);
      const seen: { rejoined: boolean }[] = [];
      reconnected.set(user, seen);
      session.on("reconnected", (info) => seen.push(info));
    }
    expect(client.endpoints).toEqual([url2, url3]);
    expect(server.queries).toContain(`A ${NAME}`);
    expect(server.queries).toContain(`AAAA ${NAME}`);
    expect(changes).toEqual([{ added: [url2, url3], removed: [] }]);
    for (const user of onTwo) {
      expect(sessions.get(user)?.stats().endpoint).toBe(url2);
      expect(bridgeAt("127.0.0.2").joined.has(user)).toBe(true);
      expect(bridgeAt("127.0.0.3").joined.has(user)).toBe(false);
    }
    for (const user of onThree) {
      expect(sessions.get(user)?.stats().endpoint).toBe(url3);
      expect(bridgeAt("127.0.0.3").joined.has(user)).toBe(true);
      expect(bridgeAt("127.0.0.2").joined.has(user)).toBe(false);
    }
    // Every session's stream is open on its bridge.
    await within(5_000, "streams on .2", bridgeAt("127.0.0.2").waitForStreams(3));
    await within(5_000, "streams on .3", bridgeAt("127.0.0.3").waitForStreams(3));

    // DNS drops 127.0.0.3 (its pod went unready); the bridge itself still runs.
    const queriesBefore = server.queries.length;
    server.set(NAME, { a: ["127.0.0.2"] });
    await until(() => changes.length === 2);
    expect(changes[1]).toEqual({ added: [], removed: [url3] });
    expect(client.endpoints).toEqual([url2]);
    expect(server.queries.length).toBeGreaterThan(queriesBefore);

    // Nobody moves without a reconnect.
    await sleep(300);
    for (const user of onThree) expect(sessions.get(user)?.stats().endpoint).toBe(url3);
    for (const user of onThree) expect(bridgeAt("127.0.0.2").joined.has(user)).toBe(false);
    expect([...reconnected.values()].flat()).toEqual([]);

    // Every stream breaks: each session reconnects, .3's users on .2 now, .2's users stay.
    for (const address of ["127.0.0.2", "127.0.0.3"]) {
      for (const stream of bridgeAt(address).streams) {
        stream.end(new ConnectError("connection reset", Code.Unavailable));
      }
    }
    await until(() => [...reconnected.values()].every((seen) => seen.length === 1), 5_000);
    for (const user of onTwo) {
      expect(sessions.get(user)?.stats().endpoint).toBe(url2);
      expect(reconnected.get(user)?.[0]?.rejoined).toBe(false); // .2 still had the room
    }
    for (const user of onThree) {
      expect(sessions.get(user)?.stats().endpoint).toBe(url2);
      expect(reconnected.get(user)?.[0]?.rejoined).toBe(true);
      expect(bridgeAt("127.0.0.2").joined.has(user)).toBe(true);
    }
    // The moved users' old bridge is told to let go of their rooms.
    await until(() => bridgeAt("127.0.0.3").calls.filter((c) => c === "LeaveRoom").length === 3);

    // A new user whose best was .3 joins on .2.
    const late = candidates.filter((user) => homeOf(user) === url3)[3] ?? "";
    const lateSession = await within(
      5_000,
      "late join",
      client.join({ userId: late, roomName: "late" }),
    );
    expect(lateSession.stats().endpoint).toBe(url2);
    expect(bridgeAt("127.0.0.3").joined.has(late)).toBe(false);
    expect(errors).toEqual([]);

    // A failed lookup keeps the set (and is reported).
    server.failure = "servfail";
    await until(() => errors.length >= 1);
    expect(String((errors[0] as Error).message)).toContain(`DNS lookup of ${NAME} failed`);
    expect(client.endpoints).toEqual([url2]);
    server.failure = undefined;

    await within(5_000, "client.close", client.close());
    for (const session of sessions.values()) expect(session.stats().openResources).toBe(0);
    const queriesAtClose = server.queries.length;
    await sleep(300); // three refresh periods
    expect(server.queries.length).toBe(queriesAtClose);
  });

  it("rejects join naming the host when the name does not exist", async () => {
    const server = await LoopbackDns.start();
    cleanups.push(() => server.close());
    const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server.server]);
    const client = createBridgeClient({
      discover: { host: "nowhere.mentra.test", port: 9090, resolver },
    });
    cleanups.push(() => client.close());
    const error = await within(
      5_000,
      "join",
      client.join({ userId: "u", roomName: "r" }).catch((e: unknown) => e),
    );
    expect(error).toMatchObject({ kind: "unavailable", code: Code.Unavailable });
    expect((error as Error).message).toBe(
      "no bridge endpoints: DNS lookup of nowhere.mentra.test found no A or AAAA records",
    );
    expect(server.queries).toContain("A nowhere.mentra.test");
  });
});
