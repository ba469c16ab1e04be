const BRIDGE_SERVICE = "/mentra.livekit.bridge.LiveKitBridge/";

/**
 * The calls the registry runs in order per user (JoinRoom, LeaveRoom): they are started
 * in the order they arrive, through one queue, so pacing never lets a LeaveRoom overtake
 * the JoinRoom sent before it (the user's last call has to win).
 */
const ORDERED_PATHS: ReadonlySet<string> = new Set([
  `${BRIDGE_SERVICE}JoinRoom`,
  `${BRIDGE_SERVICE}LeaveRoom`,
]);

/**
 * Starts JoinRoom and LeaveRoom requests one per event-loop turn, in arrival order. A
 * cloud that sends a burst of JoinRooms on one connection hands Node hundreds of streams
 * in one socket read, and handling each (about 1 ms of JavaScript here: headers,
 * interceptors, the answer) in one go blocked the loop for 200 ms, pausing every running
 * session's audio. Between two of them the loop now polls I/O, so room audio and other
 * calls (HealthCheck, StreamAudio) go on; those other RPCs are never held. LeaveRoom waits
 * in the same queue: the registry fixes a user's call order when a call's handler starts,
 * so a LeaveRoom started at once would overtake the JoinRooms waiting before it.
 */
export function withPacedJoins<Req extends { readonly url?: string | undefined }, Res>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  const waiting: (() => void)[] = [];
  let scheduled = false;
  const next = () => {
    waiting.shift()?.();
    if (waiting.length > 0) setImmediate(next);
    else scheduled = false;
  };
  return (req, res) => {
    if (req.url === undefined || !ORDERED_PATHS.has(req.url)) {
      handler(req, res);
      return;
    }
    waiting.push(() => handler(req, res));
    if (!scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  };
}
