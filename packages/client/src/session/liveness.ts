import { BridgeError, toBridgeError } from "../errors.js";
import { toStatus } from "../rpc-calls.js";
import type { SessionContext } from "./session-context.js";

/** A session-long interval, cleared when the session closes. */
export type SessionTimer = ReturnType<typeof setInterval>;

/** The controller of the session's open stream, if one is open. */
export type OpenStream = () => AbortController | undefined;

/**
 * Probes a stream quiet for `livenessMs` with GetStatus (deadline the same); a failed
 * probe breaks the stream, so the session reconnects. Catches dead connections where
 * HTTP/2 PINGs do not (Bun). Undefined when `livenessMs` is 0.
 */
export function startLivenessProbes(
  ctx: SessionContext,
  openStream: OpenStream,
): SessionTimer | undefined {
  const { userId, settings, signal } = ctx;
  if (settings.livenessMs <= 0) return undefined;
  let probing = false;
  return setInterval(
    () => {
      const current = openStream();
      if (current === undefined || probing || signal.aborted) return;
      if (Date.now() - ctx.lastActivityAt < settings.livenessMs) return;
      probing = true;
      ctx.target.client
        .getStatus({ userId }, { signal, timeoutMs: settings.livenessMs })
        .then(
          () => {
            ctx.lastActivityAt = Date.now();
          },
          (error: unknown) => {
            if (signal.aborted || openStream() !== current) return;
            const reason = toBridgeError(error);
            current.abort(
              new BridgeError("unavailable", `liveness probe failed: ${reason.message}`),
            );
          },
        )
        .finally(() => {
          probing = false;
        });
    },
    Math.max(50, Math.floor(settings.livenessMs / 2)),
  );
}

/**
 * No room audio for `watchdogMs` while the device is in the room: asks GetStatus, and
 * breaks the stream (so the session recovers) when the bridge lost the room. Emits
 * `watchdog`. Undefined when `watchdogMs` is 0.
 */
export function startWatchdog(
  ctx: SessionContext,
  openStream: OpenStream,
): SessionTimer | undefined {
  const { userId, settings, signal, listeners } = ctx;
  if (settings.watchdogMs <= 0) return undefined;
  return setInterval(
    () => {
      const silentMs = Date.now() - ctx.lastAudioAt;
      if (silentMs < settings.watchdogMs || signal.aborted) return;
      ctx.lastAudioAt = Date.now();
      ctx.target.client.getStatus({ userId }, { signal }).then(
        (response) => {
          const status = toStatus(response);
          if (status.participantCount < 2 && status.connected) return; // nobody to hear
          const stream = openStream();
          const recovered = !status.connected && stream !== undefined;
          listeners.emit("watchdog", { silentMs, connected: status.connected, recovered });
          if (recovered) stream?.abort(new BridgeError("unavailable", "watchdog: room lost"));
        },
        () => {},
      );
    },
    Math.max(50, Math.floor(settings.watchdogMs / 2)),
  );
}
