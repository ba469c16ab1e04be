/** One setting that failed validation: which, what it should be, what it was. */
export interface ConfigIssue {
  /** Environment variable name, e.g. "BRIDGE_PORT". */
  readonly name: string;
  /** What the setting accepts, in words. */
  readonly expected: string;
  /** The value given, quoted, or a placeholder for unset or secret values. */
  readonly given: string;
}

/** Thrown by `loadConfig`; lists every invalid setting, not only the first. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** Each invalid setting, in the order of the settings table. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  ${i.name}: expected ${i.expected}, got ${i.given}`);
    const noun = issues.length === 1 ? "setting" : "settings";
    super(
      `Invalid configuration (${issues.length} ${noun}):\n${lines.join("\n")}\n` +
        "Run with --help to list every setting.",
    );
    this.issues = issues;
  }
}
