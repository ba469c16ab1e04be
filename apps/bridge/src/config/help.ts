import { SETTING_NAMES, SETTINGS } from "./settings.js";

/** Renders the settings table (name, default, meaning) that `--help` prints. */
export function renderConfigHelp(): string {
  const rows = SETTING_NAMES.map((name) => [
    name,
    SETTINGS[name].defaultText,
    SETTINGS[name].description,
  ]);
  const header = ["SETTING", "DEFAULT", "DESCRIPTION"];
  const widths = [0, 1].map((column) =>
    Math.max(...[header, ...rows].map((row) => (row[column] ?? "").length)),
  );
  const format = (row: readonly string[]) =>
    `  ${(row[0] ?? "").padEnd(widths[0] ?? 0)}  ${(row[1] ?? "").padEnd(widths[1] ?? 0)}  ${row[2] ?? ""}`;
  return [
    "Usage: mentra-livekit-bridge [--help]",
    "",
    "Settings are read from environment variables; blank means the default.",
    "",
    format(header),
    ...rows.map(format),
    "",
  ].join("\n");
}
