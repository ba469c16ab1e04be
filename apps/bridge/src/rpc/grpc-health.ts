import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { grpcHealthV1 } from "@mentra/bridge-proto";

const { Health, HealthCheckResponse_ServingStatus: ServingStatus } = grpcHealthV1;

/** Options of {@link registerGrpcHealth}. */
export interface GrpcHealthOptions {
  /** Aborted once the bridge drains: every service reports NOT_SERVING from then on. */
  readonly shutdownSignal: AbortSignal;
}

/**
 * Registers `grpc.health.v1.Health` (Check, Watch, List) on the router. The services it
 * knows are "" (the server as a whole) and every service registered on the router by the
 * time a request arrives; all are SERVING until the shutdown signal, then NOT_SERVING.
 * Watch sends the current status, then NOT_SERVING when draining starts, and ends when
 * the server closes (Connect aborts every handler then), so a watcher never holds it up.
 */
export function registerGrpcHealth(router: ConnectRouter, options: GrpcHealthOptions): void {
  const { shutdownSignal } = options;
  const known = (service: string) =>
    service === "" || router.handlers.some((handler) => handler.service.typeName === service);
  const status = () => (shutdownSignal.aborted ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);

  router.service(Health, {
    check(request) {
      if (!known(request.service)) {
        throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      }
      return { status: status() };
    },
    async *watch(request, ctx: HandlerContext) {
      // An unknown service is reported, and the stream stays open, as the spec says: the
      // service might appear later (it will not here, but clients expect the shape).
      yield { status: known(request.service) ? status() : ServingStatus.SERVICE_UNKNOWN };
      if (!shutdownSignal.aborted) {
        await untilAborted([shutdownSignal, ctx.signal]);
        // Connect aborts ctx.signal on close too; only a client that left gets nothing.
        if (shutdownSignal.aborted && known(request.service)) {
          yield { status: ServingStatus.NOT_SERVING };
        }
      }
      // Draining is not closing: stay open until the server closes or the client leaves.
      await untilAborted([ctx.signal]);
      // The caller's deadline ends the stream as an error, as gRPC clients expect; had it
      // ended with OK, `grpcurl -max-time` would report a clean end.
      const reason = ConnectError.from(ctx.signal.reason);
      if (reason.code === Code.DeadlineExceeded) throw reason;
    },
    list() {
      const names = new Set([""]);
      for (const handler of router.handlers) names.add(handler.service.typeName);
      return {
        statuses: Object.fromEntries([...names].map((name) => [name, { status: status() }])),
      };
    },
  });
}

/** Resolves once any of the signals aborts; removes its listeners then. */
function untilAborted(signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    };
    if (signals.some((signal) => signal.aborted)) {
      resolve();
      return;
    }
    for (const signal of signals) signal.addEventListener("abort", done, { once: true });
  });
}
