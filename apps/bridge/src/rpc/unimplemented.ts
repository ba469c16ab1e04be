import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The error for an RPC of the contract that this build does not serve yet. Unimplemented
 * tells clients to stop retrying, unlike Unavailable.
 */
export function notImplemented(method: string): ConnectError {
  return new ConnectError(`${method} is not implemented yet in this build`, Code.Unimplemented);
}
