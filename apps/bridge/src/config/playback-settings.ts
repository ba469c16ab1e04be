import { isAllowEntry } from "../playback/url-policy.js";
import { integer, list } from "./setting.js";

/** Track ids a session may publish: 0 to 15. */
const TRACK_ID = /^(?:[0-9]|1[0-5])$/;

/**
 * PlayAudio's downloads (buffers, timeouts, sizes, which hosts) and the tracks published
 * at join so the first playback need not wait for publishing.
 */
export const PLAYBACK_SETTINGS = {
  PLAYBACK_WINDOW_BYTES: integer({
    field: "playbackWindowBytes",
    min: 65_536,
    max: 256 * 1024 * 1024,
    unit: "bytes",
    default: 1024 * 1024,
    description:
      "PlayAudio: compressed audio held ahead of play-out per playback; the download waits (TCP backpressure) beyond it.",
  }),
  PLAYBACK_BUFFER_TOTAL_BYTES: integer({
    field: "playbackBufferTotalBytes",
    min: 65_536,
    max: 4 * 1024 * 1024 * 1024,
    unit: "bytes",
    default: 32 * 1024 * 1024,
    description:
      "PlayAudio: compressed audio held ahead of play-out by all playbacks together; downloads wait beyond it.",
  }),
  PLAYBACK_CONNECT_TIMEOUT_MS: integer({
    field: "playbackConnectTimeoutMs",
    min: 100,
    max: 120_000,
    unit: "milliseconds",
    default: 5_000,
    description: "PlayAudio: how long a request (and each redirect) waits for response headers.",
  }),
  PLAYBACK_IDLE_TIMEOUT_MS: integer({
    field: "playbackIdleTimeoutMs",
    min: 100,
    max: 120_000,
    unit: "milliseconds",
    default: 10_000,
    description: "PlayAudio: longest pause while the audio file downloads.",
  }),
  PLAYBACK_TOTAL_TIMEOUT_MS: integer({
    field: "playbackTotalTimeoutMs",
    min: 100,
    max: 3_600_000,
    unit: "milliseconds",
    default: 120_000,
    description:
      "PlayAudio: longest whole download of an audio file, redirects included; time paused because PLAYBACK_WINDOW_BYTES is full does not count.",
  }),
  PLAYBACK_MAX_BYTES: integer({
    field: "playbackMaxBytes",
    min: 1_024,
    max: 1024 * 1024 * 1024,
    unit: "bytes",
    default: 50 * 1024 * 1024,
    description: "PlayAudio: largest audio file; a larger one fails with too_large.",
  }),
  PLAYBACK_MAX_REDIRECTS: integer({
    field: "playbackMaxRedirects",
    min: 0,
    max: 20,
    default: 5,
    description: "PlayAudio: redirects followed (each target's address is checked again).",
  }),
  PLAYBACK_PROGRESS_MS: integer({
    field: "playbackProgressMs",
    min: 20,
    max: 60_000,
    unit: "milliseconds",
    default: 250,
    description: "PlayAudio: spacing of PROGRESS events.",
  }),
  PUBLISH_AT_JOIN: list({
    field: "publishAtJoin",
    valid: (entry) => TRACK_ID.test(entry),
    parse: (entries) => [...new Set(entries.map(Number))],
    expected: "comma-separated track ids from 0 to 15, e.g. 2 or 0,2",
    description:
      "Tracks published (mono, 48 kHz) when a session joins, so the first TTS or PlayAudio need not wait ~200 ms for publishing.",
  }),
  PLAYBACK_ALLOW_HOSTS: list({
    field: "playbackAllowHosts",
    valid: isAllowEntry,
    expected: "a comma-separated list of host names, IP addresses and CIDR ranges",
    description:
      "PlayAudio: internal hosts audio may come from (loopback, private, link-local and metadata addresses are refused otherwise).",
  }),
};
