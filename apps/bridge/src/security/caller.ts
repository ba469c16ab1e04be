import type * as net from "node:net";
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";

/** Who sent an RPC, as far as the bridge can tell; read by handlers that must know. */
export interface Caller {
  /** Whether the call came over loopback or the Unix socket, i.e. from this machine. */
  readonly local: boolean;
  /** Whether the caller proved it holds BRIDGE_API_KEY. */
  readonly authenticated: boolean;
  /** The peer address for messages: an IP, or "unix socket", or "in-process". */
  readonly address: string;
}

/**
 * The caller of the current RPC. Calls that do not come through the server's sockets
 * (in-process router transports) are local by definition.
 */
export const callerKey = createContextKey<Caller>(
  { local: true, authenticated: false, address: "in-process" },
  { description: "the caller of an RPC" },
);

/** Marks sockets accepted on the Unix socket (a property: HTTP/2 hands out proxies). */
const UNIX_SOCKET = Symbol("mentra.unix-socket");

/** Marks a socket as accepted on the bridge's Unix socket, before it is served. */
export function markUnixSocket(socket: net.Socket): void {
  (socket as unknown as Record<symbol, boolean>)[UNIX_SOCKET] = true;
}

/** Whether an IP address is loopback (127/8, ::1, or 127/8 mapped into IPv6). */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.startsWith("::ffff:") ? address.slice(7) : address;
  return v4 === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Works out who is on the other end of a connection. */
export function callerOfSocket(
  socket: Pick<net.Socket, "remoteAddress"> | undefined,
): Omit<Caller, "authenticated"> {
  if (
    socket !== undefined &&
    (socket as unknown as Record<symbol, unknown>)[UNIX_SOCKET] === true
  ) {
    return { local: true, address: "unix socket" };
  }
  const address = socket?.remoteAddress;
  // A TCP socket without a peer address is already gone; it is nobody we trust.
  if (address === undefined) return { local: false, address: "unknown" };
  return { local: isLoopbackAddress(address), address };
}

/** The context values of one request to the server: its {@link Caller}. */
export function callerContextValues(request: { readonly socket?: net.Socket }): ContextValues {
  const values = createContextValues();
  values.set(callerKey, { ...callerOfSocket(request.socket), authenticated: false });
  return values;
}
