import { LOG_LEVELS, type LogLevel } from "./config.js";

/** Extra key/value pairs printed after a log message. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** The bridge's logger: one line per event, filtered by level. */
export interface Logger {
  /** Detail useful only when chasing a problem. */
  debug(message: string, fields?: LogFields): void;
  /** Normal lifecycle events (listening, shutting down). */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong but the bridge carries on. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed that an operator should look at. */
  error(message: string, fields?: LogFields): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Least severe level that is written. */
  readonly level: LogLevel;
  /** Where lines go; defaults to stderr, keeping stdout for program output such as --help. */
  readonly write?: (line: string) => void;
  /** Clock for the timestamp; tests pass a fixed one. */
  readonly now?: () => Date;
}

function formatValue(value: string | number | boolean): string {
  const text = String(value);
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** Creates a {@link Logger} writing `time LEVEL message key=value…` lines. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const threshold = LOG_LEVELS.indexOf(options.level);
  const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const pairs = Object.entries(fields ?? {})
      .filter((entry): entry is [string, string | number | boolean] => entry[1] !== undefined)
      .map(([key, value]) => ` ${key}=${formatValue(value)}`)
      .join("");
    write(`${now().toISOString()} ${level.toUpperCase()} ${message}${pairs}\n`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything; the default where logging is optional. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
