import { z } from "zod/v3";

// Unset and blank variables both mean "use the default": container env files often
// carry `NAME=` lines for settings nobody chose. Defaults are given as the text a variable
// would hold, and parsed like one. zod's v3 API: zod 4's own costs the bridge ~200 ms of
// CPU at start (its import and schema set-up), and a restarted bridge must answer
// HealthCheck within 300 ms.

/**
 * One setting, declared once: how its text is parsed, what `--help` and errors say about
 * it, and the {@link Config} field it fills. `F` is that field's name (never: the loader
 * combines the setting with others, as the listeners and TLS).
 */
export interface Setting<T = unknown, F extends string = string> {
  /** The Config field holding the parsed value; undefined for combined settings. */
  readonly field?: F;
  /** Parses the trimmed text (undefined when unset or blank) into the value. */
  readonly schema: z.ZodType<T, z.ZodTypeDef, string | undefined>;
  /** The default as `--help` shows it, e.g. "10000" or "(none)". */
  readonly defaultText: string;
  /** What the setting accepts, in words, for errors. */
  readonly expected: string;
  /** What the setting does, for `--help`. */
  readonly description: string;
  /** Errors show the length of its value, never the value. */
  readonly secret?: boolean;
  /** Another setting that must be set whenever this one is (a key and its secret). */
  readonly requires?: string;
}

/** What every builder takes besides what the kind of setting needs. */
interface Common<F extends string> {
  readonly field?: F;
  readonly description: string;
  /** Overrides the default shown by `--help` (when another setting supplies it). */
  readonly defaultText?: string;
  readonly secret?: boolean;
}

/** The value of a setting with default `D`: undefined is possible only without one. */
type WithDefault<T, D> = D extends undefined ? T | undefined : T;

function build<T, F extends string>(
  common: Common<F>,
  schema: z.ZodTypeAny,
  defaultText: string,
  expected: string,
  requires?: string,
): Setting<T, F> {
  return {
    ...(common.field === undefined ? {} : { field: common.field }),
    schema: schema as z.ZodType<T, z.ZodTypeDef, string | undefined>,
    defaultText: common.defaultText ?? defaultText,
    expected,
    description: common.description,
    ...(common.secret === true ? { secret: true } : {}),
    ...(requires === undefined ? {} : { requires }),
  };
}

/** The unit an integer setting counts in, as errors name it. */
type Unit = "milliseconds" | "seconds" | "bytes" | "MB";

/** An integer from `min` to `max` (decimal digits only); optional without `default`. */
export function integer<const F extends string = never, D extends number | undefined = undefined>(
  options: Common<F> & {
    readonly min: number;
    readonly max: number;
    readonly unit?: Unit;
    /** What 0 means, when it is special, e.g. "never". */
    readonly zero?: string;
    readonly default?: D;
  },
): Setting<WithDefault<number, D>, F> {
  const { min, max } = options;
  const schema = z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .refine((n) => n >= min && n <= max);
  const unit = options.unit === undefined ? "" : ` number of ${options.unit}`;
  const zero = options.zero === undefined ? "" : ` (0: ${options.zero})`;
  return build(
    options,
    options.default === undefined ? schema.optional() : schema.default(String(options.default)),
    options.default === undefined ? "(none)" : String(options.default),
    `an integer${unit} from ${min} to ${max}${zero}`,
  );
}

/** One of `values`, in any case. */
export function oneOf<
  const V extends readonly [string, ...string[]],
  const F extends string = never,
>(values: V, options: Common<F> & { readonly default: V[number] }): Setting<V[number], F> {
  return build(
    options,
    z.string().toLowerCase().pipe(z.enum(values)).default(options.default),
    options.default,
    `one of ${values.join(", ")}`,
  );
}

/**
 * Text, checked by `schema` (any string by default); optional without `default`.
 * `requires` names a setting that must be set with it, and is said in `expected`.
 */
export function text<const F extends string = never, D extends string | undefined = undefined>(
  options: Common<F> & {
    readonly expected: string;
    readonly schema?: z.ZodType<string, z.ZodTypeDef, string>;
    readonly default?: D;
    readonly requires?: string;
  },
): Setting<WithDefault<string, D>, F> {
  const schema = options.schema ?? z.string();
  const requires = options.requires;
  return build(
    options,
    options.default === undefined ? schema.optional() : schema.default(options.default),
    options.default ?? "(none)",
    requires === undefined
      ? options.expected
      : `${options.expected}, set together with ${requires}`,
    requires,
  );
}

/** The non-empty, trimmed entries of a comma-separated setting. */
function commaList(value: string): string[] {
  return value
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** A comma-separated list whose every entry passes `valid`; empty by default. */
export function list<const F extends string = never, T = string>(
  options: Common<F> & {
    readonly expected: string;
    readonly valid: (entry: string) => boolean;
    /** Turns the valid entries into the value; as they are by default. */
    readonly parse?: (entries: string[]) => T[];
  },
): Setting<readonly T[], F> {
  const { valid, parse } = options;
  const entries = z
    .string()
    .transform(commaList)
    .refine((all) => all.every(valid));
  return build(
    options,
    (parse === undefined ? entries : entries.transform(parse)).default(""),
    "(none)",
    options.expected,
  );
}

/** Whether `value` is a URL a LiveKit server can be reached at (ws, wss, http, https). */
export function isLiveKitUrl(value: string): boolean {
  try {
    return ["ws:", "wss:", "http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
