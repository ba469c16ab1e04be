import type { ClientHttp2Session, ClientHttp2Stream } from "node:http2";

/** The whole client connection preface (RFC 9113 §3.4): the magic, then an empty SETTINGS frame. */
export declare const PREFACE: Buffer;

/** Opens a StreamAudio call on `session` that sends its headers and never a message. */
export declare function openSilentStreamAudio(session: ClientHttp2Session): ClientHttp2Stream;
