import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlaybackError } from "../../src/playback/errors.js";
import { type FetchLimits, startDownload } from "../../src/playback/fetch-audio.js";
import { createAddressPolicy } from "../../src/playback/url-policy.js";
import { type AudioServer, startAudioServer } from "../support/audio-server.js";
import { TEST_FETCH_LIMITS as LIMITS } from "./fetch-limits.js";

const policy = createAddressPolicy({ allow: ["127.0.0.1"] });

async function fetchAll(url: string, limits: FetchLimits = LIMITS) {
  const download = await startDownload(new URL(url), {
    limits,
    policy,
    signal: new AbortController().signal,
  });
  let bytes = 0;
  for (;;) {
    const chunk = await download.read();
    if (chunk === undefined) return { bytes, url: download.url, download };
    bytes += chunk.length;
  }
}

async function failure(url: string, limits?: FetchLimits): Promise<string> {
  try {
    await fetchAll(url, limits);
  } catch (error) {
    if (error instanceof PlaybackError) return `${error.code}: ${error.message}`;
    throw error;
  }
  return "no error";
}

describe("streaming download (local HTTP server on 127.0.0.1)", () => {
  let server: AudioServer;
  beforeAll(async () => {
    server = await startAudioServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("streams a body and reports its final URL after redirects", async () => {
    const target = server.bytes("/ok", new Uint8Array(5_000));
    server.route("/hop1", (_q, r) => r.writeHead(302, { location: "/hop2" }).end());
    server.route("/hop2", (_q, r) => r.writeHead(307, { location: target }).end());
    const result = await fetchAll(`${server.origin}/hop1`);
    expect([result.bytes, result.url]).toEqual([5_000, target]);
  });

  it.each([
    [404, "Not Found"],
    [500, "Internal Server Error"],
  ])("fails on HTTP %i naming the status", async (status, text) => {
    const url = server.route(`/status-${status}`, (_q, r) => r.writeHead(status).end("oops"));
    expect(await failure(url)).toBe(`http_status: HTTP ${status} ${text} from ${url}`);
  });

  it("sends URL credentials to the server but never repeats them in errors or the URL it reports", async () => {
    const basic = `Basic ${Buffer.from("user:pass").toString("base64")}`;
    server.route("/private.wav", (request, response) => {
      if (request.headers.authorization !== basic) response.writeHead(401).end();
      else response.writeHead(200).end(new Uint8Array(100));
    });
    const host = server.origin.slice("http://".length);
    const ok = await fetchAll(`http://user:pass@${host}/private.wav`);
    expect([ok.bytes, ok.url]).toEqual([100, `${server.origin}/private.wav`]);
    expect(await failure(`http://user:pass@${host}/missing.wav`)).toBe(
      `http_status: HTTP 404 Not Found from ${server.origin}/missing.wav`,
    );
  });

  it("stops a redirect loop at the redirect limit", async () => {
    const url = server.route("/loop", (_q, r) => r.writeHead(302, { location: "/loop" }).end());
    expect(await failure(url)).toBe(
      `too_many_redirects: more than 3 redirects (PLAYBACK_MAX_REDIRECTS) starting at ${url}; the last went to /loop`,
    );
    expect(server.hits("/loop")).toBe(4);
  });

  it("never repeats credentials a server's redirect carries", async () => {
    const host = server.origin.slice("http://".length);
    const loop = server.route("/cred-loop", (_q, r) =>
      r.writeHead(302, { location: `http://user:pass@${host}/cred-loop` }).end(),
    );
    expect(await failure(loop)).toBe(
      `too_many_redirects: more than 3 redirects (PLAYBACK_MAX_REDIRECTS) starting at ${loop}; the last went to http://${host}/cred-loop`,
    );
    const bad = server.route("/cred-bad", (_q, r) =>
      r.writeHead(302, { location: "http://user:pass@[not-a-host/a.mp3" }).end(),
    );
    expect(await failure(bad)).toBe(
      `network: ${bad} redirected to an invalid URL: http://[not-a-host/a.mp3`,
    );
  });

  it.each([
    [
      "ftp://127.0.0.1/a.mp3",
      "refused: refused to follow a redirect from URL to ftp:// (only http and https)",
    ],
    [
      "http://10.0.0.1/a.mp3",
      "refused: refused to fetch audio from 10.0.0.1: it is a private address (PLAYBACK_ALLOW_HOSTS can allow it)",
    ],
    [
      "http://169.254.169.254/latest/meta-data",
      "refused: refused to fetch audio from 169.254.169.254: it is a cloud metadata address (PLAYBACK_ALLOW_HOSTS can allow it)",
    ],
  ])("checks every redirect target: %s", async (location, message) => {
    const path = `/to-${encodeURIComponent(location)}`;
    const url = server.route(path, (_q, r) => r.writeHead(301, { location }).end());
    expect(await failure(url)).toBe(message.replace("URL", url));
  });

  it("refuses a body whose Content-Length is over the limit before reading it", async () => {
    const url = server.bytes("/big", new Uint8Array(10_001));
    expect(await failure(url)).toBe(
      "too_large: the audio is too large: the body is 10001 bytes, over the limit of 10000 bytes (PLAYBACK_MAX_BYTES)",
    );
  });

  it("stops a chunked body as soon as it grows past the limit", async () => {
    const url = server.route("/big-chunked", (_q, r) => {
      r.writeHead(200);
      r.write(new Uint8Array(6_000));
      r.end(new Uint8Array(6_000));
    });
    expect(await failure(url)).toBe(
      "too_large: the audio is too large: the body grew past 10000 bytes, over the limit of 10000 bytes (PLAYBACK_MAX_BYTES)",
    );
  });

  it("times out a server that never answers", async () => {
    const url = server.route("/silent", () => {});
    const started = Date.now();
    expect(await failure(url)).toBe(
      `timeout: timed out after 300 ms: connecting to ${new URL(url).host}`,
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("times out a body that stalls", async () => {
    const url = server.route("/stall", (_q, r) => {
      r.writeHead(200, { "content-length": 5_000 });
      r.write(new Uint8Array(1_000));
    });
    expect(await failure(url)).toBe(`timeout: timed out after 300 ms: waiting for more of ${url}`);
  });

  it("times out a download that trickles past the total limit", async () => {
    const url = server.route("/trickle", (_q, r) => {
      r.writeHead(200);
      let sent = 0;
      const timer = setInterval(() => {
        if (r.destroyed || sent++ > 40) {
          clearInterval(timer);
          r.end();
          return;
        }
        r.write(new Uint8Array(10));
      }, 100);
    });
    expect(await failure(url, { ...LIMITS, totalTimeoutMs: 700 })).toBe(
      `timeout: timed out after 700 ms: the download of ${url}`,
    );
  });

  it("fails a body that ends before its Content-Length", async () => {
    const url = server.route("/short", (_q, r) => {
      r.writeHead(200, { "content-length": 5_000 });
      r.write(new Uint8Array(1_000), () => r.destroy());
    });
    expect(await failure(url)).toBe(
      `network: the connection to ${url} closed after 1000 of 5000 bytes`,
    );
  });

  it("reports a refused connection", async () => {
    expect(await failure("http://127.0.0.1:9/a.mp3")).toBe(
      "network: could not fetch http://127.0.0.1:9/a.mp3: ECONNREFUSED",
    );
  });
});
