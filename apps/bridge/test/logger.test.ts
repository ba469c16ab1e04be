import { describe, expect, it } from "vitest";
import { createLogger, REDACTED } from "../src/logger.js";

function capture(secrets: string[] = []) {
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    write: (line) => lines.push(line),
    now: () => new Date("2026-01-02T03:04:05.000Z"),
    secrets,
  });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line)) };
}

describe("createLogger", () => {
  it("writes one JSON line per event at or above its level", () => {
    const { logger, lines, parsed } = capture();
    logger.debug("hidden");
    logger.info("bridge listening", {
      port: 9090,
      url: "http://127.0.0.1:9090",
      skipped: undefined,
    });
    logger.error("could not listen", { error: "listen EADDRINUSE: address in use", fatal: true });
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.endsWith("}\n"))).toBe(true);
    expect(parsed()).toEqual([
      {
        level: "info",
        time: "2026-01-02T03:04:05.000Z",
        msg: "bridge listening",
        port: 9090,
        url: "http://127.0.0.1:9090",
      },
      {
        level: "error",
        time: "2026-01-02T03:04:05.000Z",
        msg: "could not listen",
        error: "listen EADDRINUSE: address in use",
        fatal: true,
      },
    ]);
  });

  it("removes URL credentials and URL-encoded JWTs, keeping the rest of the URL", () => {
    const { logger, parsed } = capture();
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    logger.info("playback started http://user:pass@cdn.test/a.mp3", {
      url: "https://user:p%40ss@cdn.test:8443/a.mp3?x=1",
      other: "ftp://anonymous@files.test/x and mailto-like bob@example.com",
      encoded: `wss://lk.test/rtc?access_token%3D${jwt}&x=1`,
    });
    expect(parsed()[0]).toMatchObject({
      msg: `playback started http://${REDACTED}@cdn.test/a.mp3`,
      url: `https://${REDACTED}@cdn.test:8443/a.mp3?x=1`,
      other: `ftp://${REDACTED}@files.test/x and mailto-like bob@example.com`,
      encoded: `wss://lk.test/rtc?access_token%3D${REDACTED}&x=1`,
    });
  });

  it("redacts secret-named fields, known secrets, JWTs, token parameters and bearer keys", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlc2lnbmF0dXJl";
    const { logger, lines, parsed } = capture(["s3cr3t-api-secret-value"]);
    logger.info("join failed for eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.abc", {
      token: "plain-token-value",
      apiKey: "k-123456789",
      authorization: "Bearer k-123456789",
      error: `could not connect to wss://lk/rtc?access_token=${jwt}&auto_subscribe=1`,
      detail: "signature mismatch for s3cr3t-api-secret-value",
      header: "Bearer abcdefghijkl",
      userId: "u1",
    });
    const text = lines.join("");
    for (const leaked of [
      "plain-token-value",
      "k-123456789",
      jwt,
      "s3cr3t-api-secret-value",
      "abcdefghijkl",
      "eyJ4IjoxfQ",
    ]) {
      expect(text).not.toContain(leaked);
    }
    expect(parsed()[0]).toMatchObject({
      token: REDACTED,
      apiKey: REDACTED,
      authorization: REDACTED,
      error: `could not connect to wss://lk/rtc?access_token=${REDACTED}&auto_subscribe=1`,
      detail: `signature mismatch for ${REDACTED}`,
      header: `Bearer ${REDACTED}`,
      userId: "u1",
      msg: `join failed for ${REDACTED}`,
    });
  });
});
