import type { z } from "zod/v3";
import { ACCESS_SETTINGS } from "./access-settings.js";
import { PLAYBACK_SETTINGS } from "./playback-settings.js";
import { PROCESS_SETTINGS } from "./process-settings.js";
import { SESSION_SETTINGS } from "./session-settings.js";
import type { Setting } from "./setting.js";

/**
 * Every setting, in the order `--help` lists them and errors report them. Each is
 * declared once, in the file of its group; its Config field follows from the declaration.
 */
export const SETTINGS = {
  ...PROCESS_SETTINGS,
  ...SESSION_SETTINGS,
  ...ACCESS_SETTINGS,
  ...PLAYBACK_SETTINGS,
} satisfies Readonly<Record<string, Setting>>;

/** An environment variable the bridge reads. */
export type SettingName = keyof typeof SETTINGS;

/** The names of {@link SETTINGS}, in order. */
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

/** {@link SETTINGS} as plain settings, for code that treats them all alike. */
export const SETTINGS_BY_NAME: Readonly<Record<SettingName, Setting>> = SETTINGS;

type Table = typeof SETTINGS;

/** The Config fields that one setting fills each, by the name the setting declares. */
type SettingFields = {
  readonly [N in SettingName as Exclude<Table[N]["field"], undefined>]: z.output<
    Table[N]["schema"]
  >;
};

/**
 * The bridge's settings, read once at start from the environment by `loadConfig`. Each
 * field is described by its setting's `description` (see `--help`).
 */
export interface Config extends SettingFields {
  /**
   * TCP port that serves gRPC, Connect and gRPC-Web; 0 picks a free one. Undefined: no TCP
   * listener, only the Unix socket (LIVEKIT_GRPC_SOCKET without BRIDGE_PORT, as deployed).
   */
  readonly port: number | undefined;
  /** Unix socket to serve on (besides the TCP port, if any); undefined: none. */
  readonly unixSocket: string | undefined;
  /** PEM certificate and key files for TLS on the TCP port; undefined: cleartext. */
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
}
