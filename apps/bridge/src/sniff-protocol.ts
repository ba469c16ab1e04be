import type { Socket } from "node:net";

/** The protocol a new connection speaks, judged from its first bytes. */
export type SniffedProtocol = "h2c" | "http/1.1";

/** Options of {@link sniffProtocol}. */
export interface SniffProtocolOptions {
  /** How long a new connection may stay silent before it is dropped. */
  readonly firstBytesTimeoutMs: number;
  /** Called once with the protocol; the peeked bytes are back in the socket by then. */
  readonly onProtocol: (protocol: SniffedProtocol) => void;
}

// RFC 9113 §3.4: a client with prior knowledge of HTTP/2 opens with this preface.
// No HTTP/1.x request line can start with it, so a prefix match settles the question.
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Reads just enough of a fresh socket to tell HTTP/2 prior knowledge (h2c) from HTTP/1.1,
 * then pauses the socket, unshifts what it read and reports the protocol, so the HTTP
 * server that takes the socket next sees the stream from its first byte. The consumer
 * resumes the socket if it reads through the stream API. A socket that closes or stays
 * silent first is never reported (a silent one is destroyed).
 */
export function sniffProtocol(socket: Socket, options: SniffProtocolOptions): void {
  let buffered: Buffer = Buffer.alloc(0);
  const timer = setTimeout(() => {
    cleanup();
    socket.destroy();
  }, options.firstBytesTimeoutMs);

  function cleanup(): void {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("close", cleanup);
  }

  function onData(chunk: Buffer): void {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const length = Math.min(buffered.length, HTTP2_PREFACE.length);
    const isPrefix = buffered.subarray(0, length).equals(HTTP2_PREFACE.subarray(0, length));
    if (isPrefix && buffered.length < HTTP2_PREFACE.length) return;
    cleanup();
    // Paused, the bytes wait in the socket's buffer: Node's HTTP/2 session reads them from
    // there on the next tick, which a flowing socket would empty first, to no listener.
    socket.pause();
    socket.unshift(buffered);
    options.onProtocol(isPrefix ? "h2c" : "http/1.1");
  }

  socket.on("data", onData);
  socket.once("close", cleanup);
}
