import { connectNodeAdapter } from "@connectrpc/connect-node";
import { withSpecGrpcMessage } from "../grpc-message.js";
import { errorDetailInterceptor } from "../rpc/error-detail.js";
import { registerGrpcHealth } from "../rpc/grpc-health.js";
import { registerReflection } from "../rpc/reflection.js";
import { callerContextValues } from "../security/caller.js";
import type { BridgeServerOptions, HttpHandler, RequestHandler } from "./options.js";
import { withPacedJoins } from "./paced-joins.js";

const notFound: HttpHandler = (_req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
};

/** Options of {@link createRpcHandler}. */
export interface RpcHandlerOptions
  extends Pick<BridgeServerOptions, "readMaxBytes" | "interceptors" | "http"> {
  /** The app's RPCs, registered besides health and reflection. */
  readonly routes: ReturnType<BridgeServerOptions["routes"]>;
  /** Aborted when draining starts: health reports NOT_SERVING. */
  readonly drainSignal: AbortSignal;
  /** Aborted when the server closes: connect-node ends the open calls' contexts. */
  readonly shutdownSignal: AbortSignal;
}

/**
 * The handler of every request on either HTTP version: Connect, gRPC and gRPC-Web for the
 * RPCs (the app's, health, reflection), `options.http` (default 404) for the rest, with
 * JoinRoom and LeaveRoom paced and grpc-message encoded as the spec says.
 */
export function createRpcHandler(options: RpcHandlerOptions): RequestHandler {
  return withPacedJoins(
    withSpecGrpcMessage(
      connectNodeAdapter({
        routes(router) {
          options.routes(router);
          registerGrpcHealth(router, { shutdownSignal: options.drainSignal });
          registerReflection(router);
        },
        shutdownSignal: options.shutdownSignal,
        // Handlers that hand out credentials need to know whether the caller is local.
        contextValues: callerContextValues,
        // Responses are never compressed: room audio is PCM, which gzip barely shrinks, and
        // compressing every chunk cost the bridge a few % of a core per session. Compressed
        // requests are still accepted.
        compressMinBytes: Number.MAX_SAFE_INTEGER,
        ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
        // Outermost, so that every error gets its reason, the other interceptors' too.
        interceptors: [errorDetailInterceptor, ...(options.interceptors ?? [])],
        fallback: options.http ?? notFound,
        connect: true,
        grpc: true,
        grpcWeb: true,
      }),
    ),
  );
}
