import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type JsLogRecord, parseJsLogLine, routeJsLogs } from "@mentra/livekit-native-logs/js-logs";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../src/logger.js";

// rtc-node's own JavaScript logger, as the patched package builds it (not exported).
const require = createRequire(import.meta.url);
const rtcNodeDist = dirname(require.resolve("@livekit/rtc-node"));
const { log: rtcLog } = require(join(rtcNodeDist, "log.cjs")) as {
  log: { warn(message: string): void; error(fields: object, message: string): void; level: string };
};
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLW9mLXRlc3Q";

describe("rtc-node's JavaScript logger, routed", () => {
  let undo = () => {};
  afterEach(() => undo());

  it("hands each line to the routed sink, not stdout, with its level, message and detail", () => {
    const records: JsLogRecord[] = [];
    const written: string[] = [];
    const originalWrite = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      undo = routeJsLogs((record) => records.push(record));
      rtcLog.warn(`join failed for ws://127.0.0.1:7880/rtc?access_token=${JWT}`);
      rtcLog.error({ err: { message: `bearer ${JWT}` } }, "Sink Error");
    } finally {
      process.stdout.write = originalWrite;
    }
    expect(written.filter((line) => line.includes("lk-rtc"))).toEqual([]);
    expect(records.map((r) => [r.level, r.message])).toEqual([
      ["warn", `join failed for ws://127.0.0.1:7880/rtc?access_token=${JWT}`],
      ["error", "Sink Error"],
    ]);
    // pino's error serializer adds the type (and a stack when there is one).
    expect(JSON.parse(records[1]?.detail ?? "{}").err.message).toBe(`bearer ${JWT}`);
  });

  it("through the bridge's logger, the token is gone from what is written", () => {
    const lines: string[] = [];
    const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
    undo = routeJsLogs((record) => {
      logger[record.level]("rtc-node log", { rtc: record.message, detail: record.detail });
    });
    rtcLog.warn(`join failed for ws://127.0.0.1:7880/rtc?access_token=${JWT}`);
    rtcLog.error({ err: { message: `bearer ${JWT}` } }, "Sink Error");
    expect(lines).toHaveLength(2);
    expect(lines.join("")).not.toContain("eyJ");
    expect(lines.join("")).not.toContain("c2lnbmF0dXJl");
    expect(lines[0]).toContain("access_token=[redacted]");
  });

  it("after the undo, lines no longer reach the sink", () => {
    const records: JsLogRecord[] = [];
    routeJsLogs((record) => records.push(record))();
    const originalWrite = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      rtcLog.warn("after the undo");
    } finally {
      process.stdout.write = originalWrite;
    }
    expect(records).toEqual([]);
  });

  it("parses pino's levels, and keeps a line that is not JSON whole as a warning", () => {
    expect(parseJsLogLine('{"level":20,"msg":"a"}')).toEqual({
      level: "debug",
      message: "a",
      detail: "",
    });
    expect(parseJsLogLine('{"level":60,"msg":"b","x":1}')).toEqual({
      level: "error",
      message: "b",
      detail: '{"x":1}',
    });
    expect(parseJsLogLine("not json\n")).toEqual({
      level: "warn",
      message: "not json",
      detail: "",
    });
  });
});
