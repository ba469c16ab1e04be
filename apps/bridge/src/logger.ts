import { pino } from "pino";
import type { LogLevel } from "./config.js";

/** Extra key/value pairs logged with a message. */
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** The bridge's logger: one JSON line per event, filtered by level. */
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
  /**
   * Values never to print (API keys, secrets): replaced wherever they appear. Read at each
   * line, so a caller may add secrets learnt later (an embedded LiveKit's) to the array.
   */
  readonly secrets?: readonly (string | undefined)[];
}

/** What replaces a secret in the log. */
export const REDACTED = "[redacted]";

// Field names whose values are secret whatever they hold.
const SECRET_KEY = /token|secret|password|passwd|authorization|api_?key|^key$|credential/i;
// LiveKit access tokens are JWTs; rtc-node error messages can quote the join URL with one.
// No word boundary in front: URL-encoded forms such as `token%3DeyJ…` must match too.
const JWT = /eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
// Credentials in a URL (`http://user:pass@host/…`): the userinfo goes, the host stays.
const URL_USERINFO = /\b([a-z][a-z\d+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
const TOKEN_PARAM = /((?:access_)?token=)[^&\s"']+/gi;
const BEARER = /(bearer\s+)[^\s"']+/gi;

/**
 * Removes secrets from one string: the known values, JWTs, URL credentials, token=
 * parameters, bearer keys. Exported for output that does not go through a {@link Logger}.
 */
export function scrubText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.replaceAll(secret, REDACTED);
  return out
    .replace(JWT, REDACTED)
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(TOKEN_PARAM, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`);
}

/**
 * Creates a {@link Logger} writing pino JSON lines (`level` as a word, ISO `time`, `msg`,
 * then the fields). Secret-named fields are redacted by name, and every string is scrubbed
 * of known secrets and token-shaped values, so no token, key or secret reaches the log.
 */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  // Short values would redact ordinary words; the config requires long keys anyway.
  const secrets = () =>
    (options.secrets ?? []).filter(
      (secret): secret is string => secret !== undefined && secret.length >= 6,
    );
  const base = pino(
    {
      level: options.level,
      base: null,
      messageKey: "msg",
      timestamp: () => `,"time":"${now().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
      // Second line of defence for fields a caller nests: pino's own redaction by path.
      redact: {
        paths: ["token", "secret", "apiKey", "apiSecret", "authorization", "*.token", "*.secret"],
        censor: REDACTED,
      },
    },
    { write },
  );
  const log = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (!base.isLevelEnabled(level)) return;
    const known = secrets();
    const clean: Record<string, string | number | boolean> = {};
    for (const [key, value] of Object.entries(fields ?? {})) {
      if (value === undefined) continue;
      if (SECRET_KEY.test(key)) clean[key] = REDACTED;
      else clean[key] = typeof value === "string" ? scrubText(value, known) : value;
    }
    base[level](clean, scrubText(message, known));
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything; the default where logging is optional. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
