import type * as http from "node:http";

/**
 * Percent-encodes a gRPC status message the way the gRPC spec says: only bytes outside
 * printable ASCII (0x20–0x7E) and "%" itself. connect-es uses encodeURIComponent, which
 * also encodes ":", "/", "?"…, and grpc-js decodes with decodeURI, which leaves those
 * escapes in place, so the deployed cloud would read "user u1%3A call JoinRoom".
 */
export function encodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

function reencode(headers: unknown): void {
  if (headers === null || typeof headers !== "object") return;
  const record = headers as Record<string, unknown>;
  const value = record["grpc-message"];
  if (typeof value !== "string") return;
  try {
    record["grpc-message"] = encodeGrpcMessage(decodeURIComponent(value));
  } catch {
    // Not ours to fix: leave a message that is not valid percent-encoding as it is.
  }
}

/** The parts of a Node response {@link withSpecGrpcMessage} patches. */
type PatchableResponse = Pick<http.ServerResponse, "writeHead" | "addTrailers">;

/**
 * Wraps a Node HTTP handler so gRPC responses carry `grpc-message` encoded per the
 * spec (see {@link encodeGrpcMessage}), in headers (trailers-only) and in trailers.
 */
export function withSpecGrpcMessage<Req extends { headers: http.IncomingHttpHeaders }, Res>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  return (req, res) => {
    const contentType = req.headers["content-type"] ?? "";
    if (
      contentType.startsWith("application/grpc") &&
      !contentType.startsWith("application/grpc-web")
    ) {
      const patchable = res as unknown as PatchableResponse;
      const writeHead = patchable.writeHead.bind(patchable) as (...args: unknown[]) => unknown;
      const addTrailers = patchable.addTrailers.bind(patchable);
      (patchable as { writeHead: unknown }).writeHead = (...args: unknown[]) => {
        reencode(args[args.length - 1]);
        return writeHead(...args);
      };
      patchable.addTrailers = (trailers) => {
        reencode(trailers);
        addTrailers(trailers);
      };
    }
    handler(req, res);
  };
}
