import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RECEIVE_WINDOW_BYTES, WindowedSessionManager } from "../src/windowed-session-manager.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("WindowedSessionManager", () => {
  it("opens its connection with an 8 MiB window for the server to send into", async () => {
    const server = http2.createServer();
    const serverSessions: http2.ServerHttp2Session[] = [];
    server.on("session", (session) => serverSessions.push(session));
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const session of serverSessions) session.destroy();
          server.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const manager = new WindowedSessionManager(url);
    cleanups.push(() => manager.abort());
    const stream = await manager.request("GET", "/", {}, {});
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    // What the server may send now: 8 MiB less the 2 bytes it sent, once the client's
    // WINDOW_UPDATE arrived (bounded at 2 s).
    const session = serverSessions[0];
    const expected = RECEIVE_WINDOW_BYTES - 2;
    for (let i = 0; i < 40 && session?.state.remoteWindowSize !== expected; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(serverSessions).toHaveLength(1);
    expect(session?.state.remoteWindowSize).toBe(expected);
  });

  it("a session error after connect-node let go of the session does not crash the process", async () => {
    const server = http2.createServer();
    const serverSessions: http2.ServerHttp2Session[] = [];
    server.on("session", (session) => serverSessions.push(session));
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200 });
      stream.end("ok");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const session of serverSessions) session.destroy();
          server.close(() => resolve());
        }),
    );
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const manager = new WindowedSessionManager(url);
    cleanups.push(() => manager.abort());
    const stream = await manager.request("GET", "/", {}, {});
    const session = stream.session;
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    if (session === undefined) throw new Error("the stream had no session");
    // A first error: connect-node's listener takes it and removes itself (its cleanup).
    session.emit("error", new Error("first error"));
    expect(await manager.state()).not.toBe("ready");
    // What a keepalive PING answered late does next: destroy the session with its error,
    // emitted as "error" again. With no listener left, emit throws (uncaught in Node).
    expect(() => session.emit("error", new Error("PING timed out"))).not.toThrow();
    expect(session.listenerCount("error")).toBeGreaterThan(0);
  });
});
