import * as net from "node:net";
import { networkInterfaces } from "node:os";
import { recordFault } from "@mentra/test-kit";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PlaybackError } from "../../src/playback/errors.js";
import { startDownload } from "../../src/playback/fetch-audio.js";
import { createAddressPolicy, parseAudioUrl } from "../../src/playback/url-policy.js";
import { type AudioServer, startAudioServer } from "../support/audio-server.js";
import { TEST_FETCH_LIMITS as LIMITS } from "./fetch-limits.js";

// Issue #17's SSRF gaps: none of these may be fetched, and none may even be connected to.
const REFUSED = [
  "http://192.0.2.1/a.mp3",
  "http://198.51.100.7/a.mp3",
  "http://203.0.113.9/a.mp3",
  "http://192.88.99.1/a.mp3",
  "http://[2001:db8::1]/a.mp3",
  "http://[100::1]/a.mp3",
  "http://[2002:7f00:1::1]/a.mp3",
  "http://[2002:a00:1::]/a.mp3",
  "http://[::127.0.0.1]/a.mp3",
  "http://[::ffff:0:127.0.0.1]/a.mp3",
  "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/a.mp3",
  "https://user:pass@[64:ff9b::10.0.0.1]/a.mp3",
];

/** Every address of this machine's interfaces, as URLs (eth0 here is 192.0.2.2). */
function ownInterfaceUrls(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).map((entry) => {
      const address = entry.address.split("%")[0] ?? entry.address;
      return `http://${address.includes(":") ? `[${address}]` : address}:9090/metrics`;
    }),
  );
}

async function outcome(url: string, policy = createAddressPolicy({ allow: [] })): Promise<string> {
  try {
    const download = await startDownload(parseAudioUrl(url), {
      limits: LIMITS,
      policy,
      signal: new AbortController().signal,
    });
    download.destroy();
    return "fetched";
  } catch (error) {
    if (error instanceof PlaybackError) return error.code;
    throw error;
  }
}

describe("a refused audio URL is never connected to", () => {
  let server: AudioServer;
  // Every TCP connect the process attempts, to where.
  const connects: string[] = [];
  const original = net.Socket.prototype.connect;
  beforeAll(async () => {
    server = await startAudioServer();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    connects.length = 0;
  });
  afterAll(async () => {
    await server?.close();
  });

  function watchConnects() {
    vi.spyOn(net.Socket.prototype, "connect").mockImplementation(function (
      this: net.Socket,
      ...args: unknown[]
    ) {
      // http's agent passes its normalised arguments as one array.
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      const options = first as { host?: string; port?: number } | undefined;
      connects.push(`${options?.host ?? "?"}:${options?.port ?? "?"}`);
      return (original as (...a: unknown[]) => net.Socket).apply(this, args);
    } as typeof original);
  }

  it("refuses each listed case and every local interface address before any connect", async () => {
    const own = ownInterfaceUrls();
    expect(own.length).toBeGreaterThan(1);
    watchConnects();
    const results: string[] = [];
    for (const url of [...REFUSED, ...own]) results.push(`${url} ${await outcome(url)}`);
    expect(results).toEqual([...REFUSED, ...own].map((url) => `${url} refused`));
    expect(connects).toEqual([]);
    recordFault({
      kind: "input",
      what: `PlayAudio URLs at documentation/reserved ranges, 6to4, IPv4-compatible, translated, Teredo and NAT64 forms of internal IPv4, and every address of the machine's own ${own.length} interface addresses (${REFUSED.length + own.length} URLs)`,
      expected: "FAILED code refused for each, before any connection is attempted",
      observed: `${results.length}/${results.length} refused; 0 TCP connects attempted`,
    });
  });

  it("refuses a redirect to an IPv4-compatible loopback address after the one allowed connect", async () => {
    const policy = createAddressPolicy({ allow: ["127.0.0.1"] });
    const port = new URL(server.origin).port;
    server.route("/hop", (_q, r) =>
      r.writeHead(302, { location: `http://[::127.0.0.1]:${port}/secret` }).end(),
    );
    watchConnects();
    expect(await outcome(`${server.origin}/hop`, policy)).toBe("refused");
    // The watcher does see connects: exactly the one to the allowed server.
    expect(connects).toEqual([`127.0.0.1:${port}`]);
  });
});
