import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { BridgeErrorDetailSchema, BridgeErrorReason, LiveKitBridge } from "@mentra/bridge-proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BridgeApp } from "../src/app.js";
import { toConnectError } from "../src/rpc/errors.js";
import { SessionError, type SessionErrorKind } from "../src/session/session-errors.js";
import { startApp } from "./support/app.js";

const KEY = "k".repeat(32);
const reasonOf = (error: unknown) =>
  ConnectError.from(error).findDetails(BridgeErrorDetailSchema)[0]?.reason;

describe("the reason of each session error kind", () => {
  it.each<[SessionErrorKind, BridgeErrorReason]>([
    ["duplicate_identity", BridgeErrorReason.DUPLICATE_IDENTITY],
    ["replaced", BridgeErrorReason.REPLACED],
    ["ended", BridgeErrorReason.SESSION_ENDED],
    ["room_lost", BridgeErrorReason.ROOM_LOST],
    ["token_expired", BridgeErrorReason.TOKEN_EXPIRED],
    ["closing", BridgeErrorReason.SESSION_CLOSING],
    ["no_session", BridgeErrorReason.NO_SESSION],
    ["draining", BridgeErrorReason.DRAINING],
  ])("%s goes on the wire with reason %s, once", (kind, reason) => {
    const error = toConnectError(new SessionError(kind, `what happened to ${kind}`));
    expect(reasonOf(error)).toBe(reason);
    expect(error.findDetails(BridgeErrorDetailSchema)).toHaveLength(1);
  });
});

/**
 * Over the wire, in each protocol the bridge serves: the reason arrives as an error
 * detail, for errors of the handlers (unary and streaming) and of the interceptors.
 */
describe("BridgeErrorDetail on the wire", () => {
  let app: BridgeApp;
  let url: string;
  beforeAll(async () => {
    ({ app, url } = await startApp({ env: { BRIDGE_API_KEY: KEY } }));
  });
  afterAll(async () => {
    await app?.close();
  });
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${KEY}`);
    return next(req);
  };
  const transports: [string, (interceptors: Interceptor[]) => Transport][] = [
    ["gRPC", (interceptors) => createGrpcTransport({ baseUrl: url, interceptors })],
    [
      "Connect JSON over HTTP/1.1",
      (interceptors) => createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors }),
    ],
    [
      "Connect binary over HTTP/2",
      (interceptors) =>
        createConnectTransport({
          baseUrl: url,
          httpVersion: "2",
          useBinaryFormat: true,
          interceptors,
        }),
    ],
    [
      "gRPC-Web",
      (interceptors) => createGrpcWebTransport({ baseUrl: url, httpVersion: "2", interceptors }),
    ],
  ];

  it.each(transports)("%s", async (_name, transport) => {
    const stranger = createClient(LiveKitBridge, transport([]));
    const caller = createClient(LiveKitBridge, transport([bearer]));
    const refused = await stranger.getStatus({ userId: "u" }).catch((e: unknown) => e);
    expect([ConnectError.from(refused).code, reasonOf(refused)]).toEqual([
      Code.Unauthenticated,
      BridgeErrorReason.UNAUTHENTICATED,
    ]);
    const malformed = await caller
      .joinRoom({ userId: "", roomName: "r", targetIdentity: "glasses" })
      .catch((e: unknown) => e);
    expect([ConnectError.from(malformed).code, reasonOf(malformed)]).toEqual([
      Code.InvalidArgument,
      BridgeErrorReason.INVALID_ARGUMENT,
    ]);
    const played = caller.playAudio({
      userId: "nobody",
      requestId: "p",
      audioUrl: "http://127.0.0.1:9/a.wav",
    });
    const ended = await (async () => {
      for await (const _event of played) {
        // events before the end, if any
      }
    })().catch((e: unknown) => e);
    expect([ConnectError.from(ended).code, reasonOf(ended)]).toEqual([
      Code.FailedPrecondition,
      BridgeErrorReason.NO_SESSION,
    ]);
  });
});
