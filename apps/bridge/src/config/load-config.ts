import { readFileSync } from "node:fs";
import { parseEnv } from "node:util";
import { ConfigError, type ConfigIssue } from "./config-error.js";
import {
  type Config,
  SETTING_NAMES,
  SETTINGS,
  SETTINGS_BY_NAME,
  type SettingName,
} from "./settings.js";

/** The parsed value of each setting, by name. */
type Values = Readonly<Record<SettingName, unknown>>;

function describeGiven(name: SettingName, value: string | undefined): string {
  if (value === undefined) return "(unset)";
  if (SETTINGS_BY_NAME[name].secret === true) return `(hidden, ${value.length} characters)`;
  return JSON.stringify(value);
}

/**
 * Reads the bridge's settings from environment variables. Throws a {@link ConfigError}
 * naming every invalid value at once, so one restart is enough to fix them all.
 */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const fileIssues: ConfigIssue[] = [];
  const file = readSettingsFile(env.BRIDGE_CONFIG_FILE?.trim(), fileIssues);
  const input: Partial<Record<SettingName, string>> = {};
  for (const name of SETTING_NAMES) {
    // The environment wins over the file, so one variable can override a deployed file.
    const value = (env[name]?.trim() || file[name]?.trim()) ?? "";
    if (value !== "") input[name] = value;
  }
  const values: Partial<Record<SettingName, unknown>> = {};
  const invalid = new Set<SettingName>();
  for (const name of SETTING_NAMES) {
    const setting = SETTINGS_BY_NAME[name];
    const parsed = setting.schema.safeParse(input[name]);
    if (parsed.success) values[name] = parsed.data;
    else invalid.add(name);
    // A key without its secret (or the reverse) cannot sign anything; say so now, not at
    // the first JoinRoom.
    const partner = setting.requires as SettingName | undefined;
    if (partner !== undefined && input[name] !== undefined && input[partner] === undefined) {
      invalid.add(partner);
    }
  }
  if (invalid.size > 0 || fileIssues.length > 0) {
    const issues = SETTING_NAMES.filter((name) => invalid.has(name)).map((name) => ({
      name,
      expected: SETTINGS_BY_NAME[name].expected,
      given: describeGiven(name, input[name]),
    }));
    throw new ConfigError([...fileIssues, ...issues]);
  }
  return configOf(values as Values);
}

/** Each setting's value in the field it declares, and the combined ones. */
function configOf(values: Values): Config {
  const fields: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const field = SETTINGS_BY_NAME[name].field;
    if (field !== undefined) fields[field] = values[name];
  }
  const certFile = values.BRIDGE_TLS_CERT as string | undefined;
  const keyFile = values.BRIDGE_TLS_KEY as string | undefined;
  return {
    ...(fields as Omit<Config, "port" | "unixSocket" | "tls">),
    ...listenersOf(values),
    tls: certFile === undefined || keyFile === undefined ? undefined : { certFile, keyFile },
  };
}

/**
 * Where the bridge listens, from our names and the deployed Go bridge's. Our names win
 * when both are given. LIVEKIT_GRPC_SOCKET alone means what it meant to the Go bridge:
 * serve there and nowhere else (PORT is then the cloud's own port, not ours); BRIDGE_PORT
 * adds a TCP listener to it.
 */
function listenersOf(values: Values): Pick<Config, "port" | "unixSocket"> {
  const bridgePort = values.BRIDGE_PORT as number | undefined;
  const ourSocket = values.BRIDGE_UNIX_SOCKET as string | undefined;
  const goSocket = values.LIVEKIT_GRPC_SOCKET as string | undefined;
  const unixSocket = ourSocket ?? goSocket;
  if (bridgePort !== undefined) return { port: bridgePort, unixSocket };
  if (goSocket !== undefined) {
    return { port: ourSocket === undefined ? undefined : 9090, unixSocket };
  }
  return { port: (values.PORT as number | undefined) ?? 9090, unixSocket };
}

/**
 * Reads a settings file of `NAME=value` lines (dotenv syntax, parsed by Node's
 * util.parseEnv). An unreadable file or a name that is no setting (a typo would otherwise
 * be ignored silently) is added to `issues`.
 */
function readSettingsFile(path: string | undefined, issues: ConfigIssue[]): Record<string, string> {
  if (path === undefined || path === "") return {};
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    issues.push({
      name: "BRIDGE_CONFIG_FILE",
      expected: SETTINGS.BRIDGE_CONFIG_FILE.expected,
      given: `${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    });
    return {};
  }
  const values = parseEnv(text) as Record<string, string>;
  for (const name of Object.keys(values)) {
    if (name === "BRIDGE_CONFIG_FILE" || !(SETTING_NAMES as string[]).includes(name)) {
      issues.push({
        name,
        expected: "a setting listed by --help (in the settings file)",
        given: `(in ${path})`,
      });
    }
  }
  return values;
}
