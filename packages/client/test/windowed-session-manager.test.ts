import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  RAISES_RECEIVE_WINDOW,
  RECEIVE_WINDOW_BYTES,
  WindowedSessionManager,
} from "../src/windowed-session-manager.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An HTTP/2 server answering every request with `body`, and a manager connected to it. */
async function startServer(body: string | Buffer) {
  const server = http2.createServer();
  const serverSessions: http2.ServerHttp2Session[] = [];
  server.on("session", (session) => serverSessions.push(session));
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const session of serverSessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  const manager = new WindowedSessionManager(
    `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  );
  cleanups.push(() => manager.abort());
  return { manager, serverSessions };
}

describe("WindowedSessionManager", () => {
  it("a 4 MiB response arrives whole, on Node and on Bun (Bun's raised window stalled at 64 KiB)", async () => {
    const body = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
    const { manager } = await startServer(body);
    const stream = await manager.request("GET", "/", {}, {});
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    const ended = new Promise<"ended">((resolve) => stream.once("close", () => resolve("ended")));
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<"stalled">((resolve) => {
      timer = setTimeout(() => resolve("stalled"), 3000);
    });
    const outcome = await Promise.race([ended, stalled]);
    clearTimeout(timer);
    if (outcome === "stalled") stream.destroy();
    const received = Buffer.concat(chunks);
    expect({ outcome, bytes: received.length }).toEqual({ outcome: "ended", bytes: body.length });
    expect(received.equals(body)).toBe(true);
  });

  it("raises its connection's window to 8 MiB where the runtime really does (Node, not Bun)", async () => {
    expect(RAISES_RECEIVE_WINDOW).toBe(typeof process.versions.bun !== "string");
    const { manager, serverSessions } = await startServer("ok");
    const stream = await manager.request("GET", "/", {}, {});
    const clientSession = stream.session;
    stream.resume();
    await new Promise((resolve) => stream.once("close", resolve));
    // What the server may send now: 8 MiB less the 2 bytes it sent, once the client's
    // WINDOW_UPDATE arrived (bounded at 2 s).
    if (!RAISES_RECEIVE_WINDOW) {
      // Bun's server does not track its peer's window, so the client's own state is what
      // shows the window was left alone.
      expect(clientSession?.state.localWindowSize).toBe(65_535);
      return;
    }
    const session = serverSessions[0];
    const expected = RECEIVE_WINDOW_BYTES - 2;
    for (let i = 0; i < 40 && session?.state.remoteWindowSize !== expected; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(serverSessions).toHaveLength(1);
    expect(session?.state.remoteWindowSize).toBe(expected);
  });

  it("a session error after connect-node let go of the session does not crash the process", async () => {
    const { manager } = await startServer("ok");
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
