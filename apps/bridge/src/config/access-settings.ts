import { z } from "zod/v3";
import { integer, text } from "./setting.js";

const ABSOLUTE_PATH = z.string().startsWith("/");

/**
 * Who may reach the bridge and how much one caller may ask of it: the API key, the Unix
 * socket and TLS, and the limits on sessions, connections, calls and joins. The socket
 * and TLS settings fill no field of their own: the loader combines them into `unixSocket`
 * (with the port settings) and `tls`.
 */
export const ACCESS_SETTINGS = {
  BRIDGE_API_KEY: text({
    field: "apiKey",
    schema: z.string().min(16),
    expected: "a key of at least 16 characters",
    description:
      "When set, every RPC but health and reflection needs `authorization: Bearer <key>`.",
    secret: true,
  }),
  BRIDGE_UNIX_SOCKET: text({
    schema: ABSOLUTE_PATH,
    expected: "an absolute path",
    description:
      "Also serve every protocol on this Unix socket, besides the TCP port (stale file replaced, folder created, mode 0666, removed on shutdown). Wins over LIVEKIT_GRPC_SOCKET.",
  }),
  LIVEKIT_GRPC_SOCKET: text({
    schema: ABSOLUTE_PATH,
    expected: "an absolute path",
    description:
      "The deployed Go bridge's socket setting: serve on this Unix socket only (no TCP listener unless BRIDGE_PORT is set), as the cloud's container expects.",
  }),
  BRIDGE_TLS_CERT: text({
    expected: "a path to a PEM certificate",
    requires: "BRIDGE_TLS_KEY",
    description: "Serve TLS on BRIDGE_PORT (h2 and http/1.1 by ALPN) with this certificate.",
  }),
  BRIDGE_TLS_KEY: text({
    expected: "a path to a PEM private key",
    requires: "BRIDGE_TLS_CERT",
    description: "Private key of BRIDGE_TLS_CERT.",
  }),
  MAX_SESSIONS: integer({
    field: "maxSessions",
    min: 1,
    max: 100_000,
    default: 1_000,
    description: "Most sessions at once; JoinRoom for another user is ResourceExhausted.",
  }),
  MAX_STREAMS_PER_CONNECTION: integer({
    field: "maxStreamsPerConnection",
    min: 1,
    max: 100_000,
    default: 1_000,
    description: "HTTP/2 streams one connection may have open at once.",
  }),
  MAX_CONNECTIONS: integer({
    field: "maxConnections",
    min: 0,
    max: 1_000_000,
    default: 0,
    description:
      "Connections at once; a new one past it evicts the idlest, or is refused. 0: a quarter of the descriptor limit, at most 1000.",
  }),
  FIRST_REQUEST_TIMEOUT_MS: integer({
    field: "firstRequestTimeoutMs",
    min: 100,
    max: 600_000,
    unit: "milliseconds",
    default: 10_000,
    description: "A new connection that sends no complete request within it is closed.",
  }),
  IDLE_CONNECTION_TIMEOUT_MS: integer({
    field: "idleConnectionTimeoutMs",
    min: 1_000,
    max: 86_400_000,
    unit: "milliseconds",
    default: 300_000,
    description: "A connection with no open call for this long is closed (HTTP/2 GOAWAY).",
  }),
  MAX_CALLS: integer({
    field: "maxCalls",
    min: 20,
    max: 1_000_000,
    default: 4_000,
    description:
      "Calls open at once; past it (less a reserve for health checks) a call is ResourceExhausted.",
  }),
  FIRST_MESSAGE_TIMEOUT_MS: integer({
    field: "firstMessageTimeoutMs",
    min: 100,
    max: 600_000,
    unit: "milliseconds",
    default: 10_000,
    description:
      "A call whose request message does not start within it ends DeadlineExceeded; later silence is fine.",
  }),
  JOIN_RATE_PER_MINUTE: integer({
    field: "joinRatePerMinute",
    min: 1,
    max: 60_000,
    default: 30,
    description: "JoinRoom calls per user per minute, sustained (ResourceExhausted beyond).",
  }),
  JOIN_BURST: integer({
    field: "joinBurst",
    min: 1,
    max: 1_000,
    default: 5,
    description: "JoinRoom calls one user may make at once before the rate applies.",
  }),
  MAX_JOINS_IN_FLIGHT: integer({
    field: "maxJoinsInFlight",
    min: 0,
    max: 1_000,
    zero: "half the CPU cores, at least 1",
    default: 0,
    description:
      "LiveKit room connects (JoinRoom and rejoins) running at once; more wait in a queue, so a burst of joins cannot starve running sessions.",
  }),
  JOIN_QUEUE_MAX: integer({
    field: "joinQueueMax",
    min: 0,
    max: 100_000,
    default: 100,
    description: "Joins waiting for a connect slot; one more is ResourceExhausted.",
  }),
  JOIN_QUEUE_TIMEOUT_MS: integer({
    field: "joinQueueTimeoutMs",
    min: 100,
    max: 600_000,
    unit: "milliseconds",
    default: 10_000,
    description: "Longest wait for a connect slot; past it JoinRoom is Unavailable.",
  }),
};
