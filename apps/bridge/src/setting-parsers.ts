// Parsers for the bridge's settings. Hand-written rather than a schema library: importing
// zod cost 90-130 ms of the bridge's start, which must answer HealthCheck within 300 ms of
// a restart, and these settings need nothing more than the few checks below.

/** What a parser returns for a value it refuses. */
export const INVALID: unique symbol = Symbol("invalid");

/** Reads one non-empty, trimmed value; {@link INVALID} when it does not fit. */
export type Parse<T> = (raw: string) => T | typeof INVALID;

/** A setting: how its value is read, and what an unset (or blank) one means. */
export interface Setting<T> {
  read(raw: string | undefined): T | typeof INVALID;
}

/** The value each setting of `settings` reads to. */
export type SettingValues<S extends Record<string, Setting<unknown>>> = {
  [K in keyof S]: S[K] extends Setting<infer T> ? T : never;
};

/** A setting that may stay unset (undefined). */
export function optional<T>(parse: Parse<T>): Setting<T | undefined> {
  return { read: (raw) => (raw === undefined ? undefined : parse(raw)) };
}

/** A setting that falls back to `fallback` when unset. */
export function withDefault<T>(parse: Parse<T>, fallback: T): Setting<T> {
  return { read: (raw) => (raw === undefined ? fallback : parse(raw)) };
}

/** Decimal digits only, from `min` to `max`. */
export function integer(min: number, max: number): Parse<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw)) return INVALID;
    const value = Number(raw);
    return value >= min && value <= max ? value : INVALID;
  };
}

/** Any text for which `accepts` holds (default: any). */
export function text(accepts: (value: string) => boolean = () => true): Parse<string> {
  return (raw) => (accepts(raw) ? raw : INVALID);
}

/** One of `values`, in any letter case. */
export function lowercaseEnum<const T extends readonly string[]>(values: T): Parse<T[number]> {
  return (raw) => {
    const value = raw.toLowerCase();
    return values.includes(value) ? (value as T[number]) : INVALID;
  };
}

/** The non-empty, trimmed entries of a comma-separated setting. */
export function commaEntries(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** A comma-separated list whose every entry `accepts`, turned into a value by `toValue`. */
export function commaList<T>(
  accepts: (entry: string) => boolean,
  toValue: (entries: string[]) => T,
): Parse<T> {
  return (raw) => {
    const entries = commaEntries(raw);
    return entries.every(accepts) ? toValue(entries) : INVALID;
  };
}
