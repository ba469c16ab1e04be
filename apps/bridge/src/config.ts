// The bridge's settings: each declared once in config/*-settings.ts, read by loadConfig,
// listed by renderConfigHelp.
export { ConfigError, type ConfigIssue } from "./config/config-error.js";
export { renderConfigHelp } from "./config/help.js";
export { loadConfig } from "./config/load-config.js";
export {
  ISOLATE_MODES,
  type IsolateMode,
  LOG_LEVELS,
  type LogLevel,
} from "./config/process-settings.js";
export { BYTE_ORDER_MODES, type ByteOrderSetting } from "./config/session-settings.js";
export type { Config } from "./config/settings.js";
