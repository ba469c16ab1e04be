/**
 * rtc-node's JavaScript logger (pino, "lk-rtc") writes straight to stdout, past any
 * scrubbing of the host. The patched rtc-node (patches/@livekit__rtc-node@1.1.0.patch)
 * hands each of its lines to a function registered under {@link SINK} instead; this module
 * registers one, parses the line and offers it to the host as a record. It does not load
 * rtc-node, so a host may call it first, and lines logged later still come here.
 */

/** Where the patched rtc-node looks for the host's sink, at every line. */
const SINK = Symbol.for("mentra.rtc-node.log-sink");

/** One line of rtc-node's JavaScript logger, unscrubbed (its messages may quote URLs). */
export interface JsLogRecord {
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
  /** What the line carried besides its message (an error's text, say), as JSON; "" if none. */
  readonly detail: string;
}

// pino's numeric levels: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal.
function levelOf(value: unknown): JsLogRecord["level"] {
  const n = typeof value === "number" ? value : 30;
  if (n >= 50) return "error";
  if (n >= 40) return "warn";
  if (n >= 30) return "info";
  return "debug";
}

// pino's own keys, dropped from the detail: the host's logger writes its own.
const PINO_KEYS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** Parses one pino JSON line; a line that is not one is kept whole, as a warning. */
export function parseJsLogLine(line: string): JsLogRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null) {
    return { level: "warn", message: line.trimEnd(), detail: "" };
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  const rest = Object.fromEntries(entries.filter(([key]) => !PINO_KEYS.has(key)));
  const msg = (parsed as Record<string, unknown>).msg;
  return {
    level: levelOf((parsed as Record<string, unknown>).level),
    message: typeof msg === "string" ? msg : "",
    detail: Object.keys(rest).length === 0 ? "" : JSON.stringify(rest),
  };
}

/**
 * Sends every line of rtc-node's JavaScript logger to `onRecord` instead of stdout, from
 * now on (the last call wins). Returns the undo, which sends lines to stdout again.
 */
export function routeJsLogs(onRecord: (record: JsLogRecord) => void): () => void {
  const sink = (line: string) => {
    for (const one of line.split("\n")) if (one.trim() !== "") onRecord(parseJsLogLine(one));
  };
  (globalThis as Record<symbol, unknown>)[SINK] = sink;
  return () => {
    const global = globalThis as Record<symbol, unknown>;
    if (global[SINK] === sink) delete global[SINK];
  };
}
