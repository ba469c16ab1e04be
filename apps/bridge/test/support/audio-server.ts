import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** What a test route does with a request. */
export type Route = (request: IncomingMessage, response: ServerResponse) => void;

/** An HTTP server on 127.0.0.1 serving audio and misbehaving on purpose, for PlayAudio tests. */
export interface AudioServer {
  /** e.g. http://127.0.0.1:41234 */
  readonly origin: string;
  /** Adds or replaces the route for `path` and returns its full URL. */
  route(path: string, handler: Route): string;
  /** Serves `body` at `path` with a Content-Length and returns the URL. */
  bytes(path: string, body: Uint8Array, contentType?: string): string;
  /** Serves a committed fixture (test/fixtures/NAME) at /fixtures/NAME and returns the URL. */
  fixture(name: string): string;
  /** Requests received per path. */
  hits(path: string): number;
  /** Closes the server and every connection still open (stalled ones included). */
  close(): Promise<void>;
}

const FIXTURES = new URL("../fixtures/", import.meta.url);

/** Reads a committed audio fixture. */
export function readFixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, FIXTURES)));
}

/** Starts the server on a free port of 127.0.0.1. */
export async function startAudioServer(): Promise<AudioServer> {
  const routes = new Map<string, Route>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (route === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("no such route");
      return;
    }
    route(request, response);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no server address");
  const origin = `http://127.0.0.1:${address.port}`;
  const api: AudioServer = {
    origin,
    route(path, handler) {
      routes.set(path, handler);
      return `${origin}${path}`;
    },
    bytes(path, body, contentType = "application/octet-stream") {
      return api.route(path, (_request, response) => {
        response.writeHead(200, { "content-type": contentType, "content-length": body.length });
        response.end(body);
      });
    },
    fixture(name) {
      const type = name.endsWith(".mp3") ? "audio/mpeg" : "audio/wav";
      return api.bytes(`/fixtures/${name}`, readFixture(name), type);
    },
    hits: (path) => counts.get(path) ?? 0,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}
