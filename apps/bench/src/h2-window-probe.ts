import * as http2 from "node:http2";
import * as net from "node:net";
import { RECEIVE_WINDOW_BYTES } from "@mentra/bridge-client";
import { type Percentiles, percentiles } from "./stats.js";

/** What one pass of {@link probeSharedConnection} measured. */
export interface WindowProbeResult {
  readonly streams: number;
  readonly rttMs: number;
  readonly window: "default" | "raised";
  /** Send (server write) to receipt (client read), per 20 ms message. */
  readonly delayMs: Percentiles;
  readonly received: number;
  readonly sent: number;
}

/** A TCP relay that holds every chunk for `delayMs` each way: a round trip of 2 × delayMs. */
async function startDelayRelay(target: number, delayMs: number) {
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((downstream) => {
    const upstream = net.connect(target, "127.0.0.1");
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.once("close", () => sockets.delete(s));
    }
    const pipe = (from: net.Socket, to: net.Socket) =>
      from.on("data", (chunk: Buffer) => setTimeout(() => to.write(chunk), delayMs));
    pipe(downstream, upstream);
    pipe(upstream, downstream);
    downstream.once("close", () => upstream.destroy());
    upstream.once("close", () => downstream.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
}

/**
 * The bridge's room→cloud path in miniature: a server writes 20 ms messages of 16 kHz
 * PCM (645 bytes with gRPC framing, 50 a second) on `streams` streams of ONE HTTP/2
 * connection, as connect-node does (write, wait for "drain"), to a client behind a relay
 * with a round trip of `rttMs`; the client reads everything at once. Measures each
 * message's delay with the client's default connection window (65,535 bytes) or with the
 * one @mentra/bridge-client raises it to (RECEIVE_WINDOW_BYTES).
 */
export async function probeSharedConnection(options: {
  readonly streams: number;
  readonly rttMs: number;
  readonly seconds: number;
  readonly window: "default" | "raised";
}): Promise<WindowProbeResult> {
  const { streams, rttMs, seconds } = options;
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  const stopAt = Date.now() + seconds * 1000;
  let sent = 0;
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    const message = Buffer.alloc(645);
    const tick = async () => {
      for (let due = Date.now(); Date.now() < stopAt && !stream.destroyed; due += 20) {
        message.writeDoubleLE(Date.now(), 0);
        sent++;
        if (!stream.write(Buffer.from(message))) {
          await new Promise((resolve) => stream.once("drain", resolve));
        }
        const wait = due + 20 - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      stream.end();
    };
    void tick();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const relay = await startDelayRelay((server.address() as net.AddressInfo).port, rttMs / 2);
  const url = `http://127.0.0.1:${relay.port}`;
  const client = http2.connect(url);
  client.on("error", () => {});
  await new Promise((resolve) => client.once("connect", resolve));
  if (options.window === "raised") client.setLocalWindowSize(RECEIVE_WINDOW_BYTES);
  const delays: number[] = [];
  try {
    await Promise.all(
      Array.from({ length: streams }, async () => {
        const stream = client.request({ ":path": "/" });
        let pending = Buffer.alloc(0);
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 645) {
            delays.push(Date.now() - pending.readDoubleLE(0));
            pending = pending.subarray(645);
          }
        }
      }),
    );
  } finally {
    client.destroy();
    for (const s of sessions) s.destroy();
    await relay.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return {
    streams,
    rttMs,
    window: options.window,
    delayMs: percentiles(delays),
    received: delays.length,
    sent,
  };
}
