// The levels alone, in a module that loads nothing: settings validation needs them before
// (and without) rtc-node, which takes a few hundred ms to load.

/** How much of LiveKit's native log `routeNativeLogs` forwards; "off" none. */
export const NATIVE_LOG_LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;

/** A level of {@link NATIVE_LOG_LEVELS}. */
export type NativeLogLevel = (typeof NATIVE_LOG_LEVELS)[number];
