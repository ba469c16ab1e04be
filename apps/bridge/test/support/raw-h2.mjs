// Raw HTTP/2 pieces for hostile callers, shared by the in-process tests and by attacker.mjs,
// which runs as its own process under plain node: so JavaScript, typed by raw-h2.d.mts.

/** The whole client connection preface (RFC 9113 §3.4): the magic, then an empty SETTINGS frame. */
export const PREFACE = Buffer.concat([
  Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** Opens a StreamAudio call on `session` that sends its headers and never a message. */
export function openSilentStreamAudio(session) {
  const stream = session.request(
    {
      ":method": "POST",
      ":path": "/mentra.livekit.bridge.LiveKitBridge/StreamAudio",
      "content-type": "application/grpc",
      te: "trailers",
    },
    { endStream: false },
  );
  stream.on("error", () => {});
  return stream;
}
