import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.js";

describe("createLogger", () => {
  it("writes one line per event at or above its level, with quoted fields when needed", () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: "info",
      write: (line) => lines.push(line),
      now: () => new Date("2026-01-02T03:04:05.000Z"),
    });
    logger.debug("hidden");
    logger.info("bridge listening", {
      port: 9090,
      url: "http://127.0.0.1:9090",
      skipped: undefined,
    });
    logger.error("could not listen", { error: "listen EADDRINUSE: address in use", fatal: true });
    expect(lines).toEqual([
      "2026-01-02T03:04:05.000Z INFO bridge listening port=9090 url=http://127.0.0.1:9090\n",
      '2026-01-02T03:04:05.000Z ERROR could not listen error="listen EADDRINUSE: address in use" fatal=true\n',
    ]);
  });
});
