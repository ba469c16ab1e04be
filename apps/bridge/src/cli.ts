import { type BridgeApp, createBridgeApp } from "./app.js";
import { ConfigError, loadConfig, renderConfigHelp } from "./config.js";
import { type LiveKitRuntime, type StartRig, startLiveKitRuntime } from "./embedded-livekit.js";
import {
  disposeLiveKit,
  type NativeLogLevel,
  type NativeLogsRoute,
  routeNativeLogsTo,
  routeRtcNodeLogsTo,
  warmLiveKit,
} from "./livekit/index.js";
import { createLogger, type Logger } from "./logger.js";
import { watchResidentMemory } from "./recycle.js";
import type { BridgeServerAddress } from "./server.js";

/** Exit codes of the bridge process, for supervisors and scripts. */
export const ExitCode = {
  /** Shut down cleanly after SIGINT/SIGTERM, or printed --help. */
  Ok: 0,
  /** Failed to start (port taken, LiveKit would not start) or to shut down cleanly. */
  Failure: 1,
  /** Invalid settings or arguments; nothing was started. */
  Usage: 2,
  /** Drained and stopped because resident memory passed RECYCLE_RSS_MB: restart it. */
  Recycle: 3,
} as const;

/** Options of {@link runBridge}; `main.ts` passes the real process. */
export interface RunBridgeOptions {
  /** Command-line arguments after the script name. */
  readonly argv: readonly string[];
  /** Environment variables to read settings from. */
  readonly env: NodeJS.ProcessEnv;
  /** Program output (--help). */
  readonly stdout: (text: string) => void;
  /** Errors and log lines. */
  readonly stderr: (text: string) => void;
  /** Emits "SIGINT"/"SIGTERM"; the process, or an EventEmitter in tests. */
  readonly signals: Pick<NodeJS.EventEmitter, "once" | "off">;
  /** Called once the port is bound, e.g. for tests that listen on port 0. */
  readonly onListening?: (address: BridgeServerAddress) => void;
  /** Replaces the embedded LiveKit's starter, for tests. */
  readonly startRig?: StartRig;
  /** Replaces the loading of rtc-node after listening ({@link warmLiveKit}), for tests. */
  readonly warmLiveKit?: () => Promise<{ readonly nativeLogs: NativeLogsRoute }>;
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * What a developer needs to point the cloud and a device at this bridge and its LiveKit,
 * printed to stdout once the bridge listens (the log goes to stderr). The embedded
 * LiveKit's key and secret are printed: they are made up at every start and only guard a
 * development server on this machine. An external LiveKit's secret never is.
 */
export function describeForDevelopers(
  address: BridgeServerAddress,
  livekit: Pick<LiveKitRuntime, "url" | "apiKey" | "apiSecret" | "embedded">,
): string {
  const bridge = [
    ...(address.port === undefined ? [] : [`LIVEKIT_GRPC_BRIDGE_URL=127.0.0.1:${address.port}`]),
    ...(address.socketPath === undefined ? [] : [`LIVEKIT_GRPC_SOCKET=${address.socketPath}`]),
  ];
  const lines = ["", "The cloud reaches this bridge with:", ...bridge.map((line) => `  ${line}`)];
  if (livekit.embedded && livekit.apiKey !== undefined && livekit.apiSecret !== undefined) {
    lines.push(
      "Embedded LiveKit (development; new key and secret at every start), for the cloud and devices:",
      `  LIVEKIT_URL=${livekit.url}`,
      `  LIVEKIT_API_KEY=${livekit.apiKey}`,
      `  LIVEKIT_API_SECRET=${livekit.apiSecret}`,
      "  It listens on this machine only; a phone elsewhere needs a tunnel or an external LiveKit (LIVEKIT_URL).",
    );
  } else {
    lines.push(`LiveKit: ${livekit.url} (external; its key and secret are not printed)`);
  }
  return `${lines.join("\n")}\n\n`;
}

/** Resolves with the first stop signal; a second one calls `onForce`. */
function waitForStopSignal(
  signals: RunBridgeOptions["signals"],
  onForce: (signal: string) => void,
): Promise<string> {
  return new Promise((resolve) => {
    const onFirst = (signal: string) => {
      for (const name of STOP_SIGNALS) {
        signals.off(name, onFirst);
        signals.once(name, onForce);
      }
      resolve(signal);
    };
    for (const name of STOP_SIGNALS) signals.once(name, onFirst);
  });
}

/**
 * Runs the bridge until SIGINT or SIGTERM: reads settings, resolves LiveKit (embedded
 * when LIVEKIT_URL is empty), serves, then closes the server and LiveKit in that order.
 * Resolves with the process exit code (see {@link ExitCode}); never calls process.exit.
 */
/**
 * LiveKit's native lines never reach stderr on their own (they quote tokens); at most they
 * come through the logger, which scrubs them, once rtc-node loads (after listening).
 * rtc-node's own JavaScript logger wrote to stdout unscrubbed; it comes through too.
 */
function routeLibraryLogs(nativeLevel: NativeLogLevel, logger: Logger): void {
  routeNativeLogsTo(nativeLevel, (record) => {
    const level = record.level === "trace" ? "debug" : record.level;
    logger[level]("livekit native log", { target: record.target, native: record.message });
  });
  routeRtcNodeLogsTo((record) => {
    logger[record.level]("rtc-node log", {
      rtc: record.message,
      detail: record.detail || undefined,
    });
  });
}

export async function runBridge(options: RunBridgeOptions): Promise<number> {
  const unknown = options.argv.filter((arg) => arg !== "--help" && arg !== "-h");
  if (unknown.length > 0) {
    options.stderr(`Unknown argument ${JSON.stringify(unknown[0])}. Try --help.\n`);
    return ExitCode.Usage;
  }
  if (options.argv.length > 0) {
    options.stdout(renderConfigHelp());
    return ExitCode.Ok;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(options.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    options.stderr(`${error.message}\n`);
    return ExitCode.Usage;
  }
  const secrets = [config.apiKey, config.livekitApiSecret, config.livekitApiKey];
  const logger = createLogger({ level: config.logLevel, write: options.stderr, secrets });
  routeLibraryLogs(config.nativeLogLevel, logger);

  let forced: (signal: string) => void = () => {};
  const forcedStop = new Promise<number>((resolve) => {
    forced = (signal) => {
      logger.warn("second stop signal, exiting without draining", { signal });
      resolve(ExitCode.Failure);
    };
  });
  const stopSignal = waitForStopSignal(options.signals, (signal) => forced(signal));

  const livekit = await startLiveKitRuntime({
    config,
    logger,
    ...(options.startRig === undefined ? {} : { startRig: options.startRig }),
  }).catch((error: unknown) => {
    logger.error("could not start the embedded LiveKit", { error: String(error) });
    return undefined;
  });
  if (livekit === undefined) return ExitCode.Failure;
  secrets.push(livekit.apiKey, livekit.apiSecret);

  let app: BridgeApp;
  try {
    app = createBridgeApp({ config, livekit, logger });
  } catch (error) {
    // Unreadable TLS files, mostly.
    logger.error("could not set the bridge up", { error: String(error) });
    await livekit.close();
    await disposeLiveKit();
    return ExitCode.Failure;
  }
  const shutdown = async (): Promise<number> => {
    try {
      await app.close();
      await livekit.close();
      await disposeLiveKit();
      logger.info("bridge stopped");
      return ExitCode.Ok;
    } catch (error) {
      logger.error("shutdown failed", { error: String(error) });
      return ExitCode.Failure;
    }
  };

  try {
    const address = await app.listen();
    logger.info("bridge listening", {
      port: address.port,
      host: address.host,
      url: address.url,
      socketPath: address.socketPath,
      livekit: livekit.url,
      embeddedLiveKit: livekit.embedded,
      // Since the process started (performance's time origin), module loading included.
      startupMs: Math.round(performance.now()),
    });
    options.stdout(describeForDevelopers(address, livekit));
    options.onListening?.(address);
  } catch (error) {
    logger.error("could not listen", {
      host: config.host,
      port: config.port,
      error: String(error),
    });
    await shutdown();
    return ExitCode.Failure;
  }

  // rtc-node loads after the bridge answers (HealthCheck first); a JoinRoom meanwhile waits.
  // A bridge that cannot load it can join nothing: it says why and exits 1, so its
  // supervisor (the cloud's container exits with it) sees the failure at once.
  const warmStarted = performance.now();
  const warmFailed = (options.warmLiveKit ?? warmLiveKit)().then(
    ({ nativeLogs }) => {
      logger.info("rtc-node loaded", { ms: Math.round(performance.now() - warmStarted) });
      if (nativeLogs === "unavailable") {
        logger.warn("could not take over rtc-node's native log capture: expect more CPU per room");
      }
      return new Promise<never>(() => {});
    },
    (error: unknown) => String(error),
  );

  let stopWatching = () => {};
  const overLimit = new Promise<number>((resolve) => {
    stopWatching = watchResidentMemory({
      limitMb: config.recycleRssMb,
      intervalMs: config.recycleCheckMs,
      onExceeded: resolve,
    });
  });
  const stop = await Promise.race([
    stopSignal.then((signal) => ({ signal, rssMb: undefined, loadError: undefined })),
    overLimit.then((rssMb) => ({ signal: undefined, rssMb, loadError: undefined })),
    warmFailed.then((loadError) => ({ signal: undefined, rssMb: undefined, loadError })),
  ]);
  stopWatching();
  if (stop.loadError !== undefined) {
    logger.error("could not load rtc-node: no room can be joined, exiting", {
      error: stop.loadError,
      exitCode: ExitCode.Failure,
    });
    await Promise.race([shutdown(), forcedStop]);
    return ExitCode.Failure;
  }
  if (stop.rssMb !== undefined) {
    logger.error("resident memory over RECYCLE_RSS_MB: draining, then exiting to be restarted", {
      rssMb: stop.rssMb,
      limitMb: config.recycleRssMb,
      reason: "rtc-node keeps native memory of every room it left",
      exitCode: ExitCode.Recycle,
    });
    const code = await Promise.race([shutdown(), forcedStop]);
    return code === ExitCode.Ok ? ExitCode.Recycle : code;
  }
  logger.info("stop signal received, draining", {
    signal: stop.signal,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
  });
  return Promise.race([shutdown(), forcedStop]);
}
