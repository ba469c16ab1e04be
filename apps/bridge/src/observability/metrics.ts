import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  type AudioChunk,
  type AudioSessionRequest,
  type AudioSessionResponse,
  LiveKitBridge,
  type PlayAudioEvent,
  PlayAudioEvent_EventType,
} from "@mentra/bridge-proto";
import * as prom from "prom-client";
import { playbackBufferedBytes } from "../playback/buffer-budget.js";
import { type AudioLatencySink, createAudioLatencyHistogram } from "./audio-latency.js";
import { DEVICE_PACKET_KEYS, registerDevicePacketMetrics } from "./device-packet-metrics.js";
import { readMemory } from "./memory.js";

/** What the metrics read from the sessions when Prometheus scrapes. */
export interface SessionSource {
  /** Live sessions and attached StreamAudio streams. */
  counts(): { sessions: number; streams: number };
  /** Status metadata of the user's session (live or last), as GetStatus shows it. */
  status(userId: string): { readonly metadata: Readonly<Record<string, string>> } | undefined;
  /** Whether the user has a live session now. */
  isLive(userId: string): boolean;
}

/** Options of {@link createBridgeMetrics}. */
export interface BridgeMetricsOptions {
  readonly sessions: SessionSource;
  /** Collect Node's default process metrics (CPU, heap, GC…); default true. */
  readonly processMetrics?: boolean;
}

/** The bridge's Prometheus metrics, fed by an interceptor and read at scrape time. */
export interface BridgeMetrics {
  /** Counts every RPC by method and code, its latency, and the audio it carries. */
  readonly interceptor: Interceptor;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Content-Type of {@link render}'s output. */
  readonly contentType: string;
  /** The underlying registry, e.g. to add more metrics. */
  readonly registry: prom.Registry;
  /** Calls of a LiveKitBridge method open now, e.g. "PlayAudio" (shutdown waits on them). */
  openCalls(method: string): number;
  /** The histogram of the time audio spends inside the bridge, for the sessions. */
  readonly audioLatency: AudioLatencySink;
}

// Session status counters that count drops, and the reason each one stands for.
const DROPS = {
  cloud_dropped_ms: "cloud_queue_full_ms",
  cloud_delay_dropped_ms: "cloud_standing_delay_ms",
  unannounced_packets_dropped: "unannounced_sender",
} as const;

// Session status counters of cloud → room underruns (see OutboundTrack.underruns).
const UNDERRUN_KEYS = ["to_room_underruns", "to_room_underrun_ms"] as const;

// Session media counters (WebRTC statistics) and the labels each one stands for.
const MEDIA: Record<string, Record<string, string>> = {
  room_packets_received: { direction: "from_room", fate: "received" },
  room_packets_lost: { direction: "from_room", fate: "lost" },
  room_packets_sent: { direction: "to_room", fate: "sent" },
  room_packets_lost_by_peer: { direction: "to_room", fate: "lost" },
  room_concealed_ms: {},
};

/** How long one reading of the sessions serves the collectors of a scrape. */
const TOTALS_REUSE_MS = 100;

/**
 * Sums numeric GetStatus metadata over the users the interceptor saw join, keeping the
 * last figures of closed or replaced sessions, so the totals only grow as Prometheus
 * counters should. Every collector of a scrape calls refresh(); the sessions are read once
 * per scrape (the sums are reused for {@link TOTALS_REUSE_MS}).
 */
function createSessionTotals(sessions: SessionSource, keys: readonly string[]) {
  const users = new Set<string>();
  const closed: Record<string, number> = {};
  const last = new Map<string, Record<string, number>>();
  let cached: { readonly at: number; readonly sums: Record<string, number> } | undefined;
  return {
    users,
    refresh(): Record<string, number> {
      const now = performance.now();
      if (cached !== undefined && now - cached.at < TOTALS_REUSE_MS) return cached.sums;
      for (const userId of users) {
        const metadata = sessions.status(userId)?.metadata ?? {};
        const figures: Record<string, number> = {};
        for (const key of keys) figures[key] = Number(metadata[key] ?? 0) || 0;
        // A replacing JoinRoom starts from zero: keep what the old session had.
        const previous = last.get(userId);
        for (const key of keys) {
          if ((figures[key] ?? 0) < (previous?.[key] ?? 0)) {
            closed[key] = (closed[key] ?? 0) + (previous?.[key] ?? 0);
          }
        }
        last.set(userId, figures);
        if (!sessions.isLive(userId)) {
          for (const key of keys) closed[key] = (closed[key] ?? 0) + (figures[key] ?? 0);
          users.delete(userId);
          last.delete(userId);
        }
      }
      const sums: Record<string, number> = {};
      for (const key of keys) {
        let sum = closed[key] ?? 0;
        for (const figures of last.values()) sum += figures[key] ?? 0;
        sums[key] = sum;
      }
      cached = { at: now, sums };
      return sums;
    },
  };
}

function codeName(error: unknown): string {
  return Code[ConnectError.from(error).code] ?? "Unknown";
}

/**
 * Creates the metrics. Session-level counters (drops) are summed from GetStatus metadata
 * of the users the interceptor saw join, keeping the last figures of closed sessions, so
 * the totals only grow as Prometheus counters should.
 */
export function createBridgeMetrics(options: BridgeMetricsOptions): BridgeMetrics {
  const registry = new prom.Registry();
  if (options.processMetrics !== false) prom.collectDefaultMetrics({ register: registry });
  const { sessions } = options;

  new prom.Gauge({
    name: "bridge_sessions",
    help: "Users with a session (the bridge in their LiveKit room) now.",
    registers: [registry],
    collect() {
      this.set(sessions.counts().sessions);
    },
  });
  new prom.Gauge({
    name: "bridge_streams",
    help: "StreamAudio streams attached to a session now.",
    registers: [registry],
    collect() {
      this.set(sessions.counts().streams);
    },
  });
  new prom.Gauge({
    name: "bridge_playback_buffered_bytes",
    help: "Downloaded audio held ahead of play-out by all playbacks (PLAYBACK_BUFFER_TOTAL_BYTES bounds it).",
    registers: [registry],
    collect() {
      this.set(playbackBufferedBytes());
    },
  });
  new prom.Gauge({
    name: "bridge_process_native_memory_bytes",
    help: "Resident set size minus the V8 heap: native memory (rtc-node, buffers).",
    registers: [registry],
    collect() {
      const memory = readMemory();
      this.set(Math.max(0, memory.rss - memory.heapTotal));
    },
  });
  const rpcs = new prom.Counter({
    name: "bridge_rpcs_total",
    help: "RPCs finished, by service, method and code.",
    labelNames: ["service", "method", "code"],
    registers: [registry],
  });
  const latency = new prom.Histogram({
    name: "bridge_rpc_duration_seconds",
    help: "Time from request to the end of the response (whole stream for streaming RPCs).",
    labelNames: ["service", "method", "code"],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [registry],
  });
  const inFlight = new prom.Gauge({
    name: "bridge_rpcs_in_flight",
    help: "RPCs open now, by service and method.",
    labelNames: ["service", "method"],
    registers: [registry],
  });
  const chunks = new prom.Counter({
    name: "bridge_audio_chunks_total",
    help: "AudioChunk messages on StreamAudio, by direction (to_room, to_cloud).",
    labelNames: ["direction"],
    registers: [registry],
  });
  const bytes = new prom.Counter({
    name: "bridge_audio_bytes_total",
    help: "PCM bytes on StreamAudio, by direction (to_room, to_cloud).",
    labelNames: ["direction"],
    registers: [registry],
  });
  const playbacks = new prom.Counter({
    name: "bridge_playbacks_total",
    help: "PlayAudio calls by outcome (completed, failed, stopped, error).",
    labelNames: ["outcome"],
    registers: [registry],
  });

  // Session-level counters come from GetStatus metadata of every user seen to join.
  const totals = createSessionTotals(sessions, [
    ...Object.keys(DROPS),
    ...Object.keys(MEDIA),
    ...DEVICE_PACKET_KEYS,
    ...UNDERRUN_KEYS,
  ]);
  registerDevicePacketMetrics(registry, () => totals.refresh());
  new prom.Counter({
    name: "bridge_dropped_total",
    help: "Audio dropped by the bridge, by reason (the *_ms reasons count milliseconds).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      const sums = totals.refresh();
      this.reset();
      for (const [key, reason] of Object.entries(DROPS)) this.inc({ reason }, sums[key] ?? 0);
    },
  });
  new prom.Counter({
    name: "bridge_room_packets_total",
    help: "RTP audio packets between the bridge and LiveKit (WebRTC statistics), by direction and fate.",
    labelNames: ["direction", "fate"],
    registers: [registry],
    collect() {
      const sums = totals.refresh();
      this.reset();
      for (const [key, labels] of Object.entries(MEDIA)) {
        if (key !== "room_concealed_ms") this.inc(labels, sums[key] ?? 0);
      }
    },
  });
  new prom.Counter({
    name: "bridge_to_room_underruns_total",
    help: "Times a published track's AudioSource ran dry while the next cloud frame already waited in the bridge (the room heard a gap inside audio that was there).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(totals.refresh().to_room_underruns ?? 0);
    },
  });
  new prom.Counter({
    name: "bridge_to_room_underrun_seconds_total",
    help: "How long published tracks' AudioSources ran dry while cloud audio waited in the bridge.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc((totals.refresh().to_room_underrun_ms ?? 0) / 1000);
    },
  });
  new prom.Counter({
    name: "bridge_room_concealed_seconds_total",
    help: "Room audio the bridge's decoder invented for lost or late packets (packet-loss concealment).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc((totals.refresh().room_concealed_ms ?? 0) / 1000);
    },
  });

  new prom.Gauge({
    name: "bridge_room_round_trip_seconds_max",
    help: "The longest round trip to LiveKit among live sessions now (WebRTC receiver reports).",
    registers: [registry],
    collect() {
      let worst = 0;
      for (const userId of totals.users) {
        if (!sessions.isLive(userId)) continue;
        const rtt = Number(sessions.status(userId)?.metadata.room_round_trip_ms ?? 0) || 0;
        worst = Math.max(worst, rtt);
      }
      this.set(worst / 1000);
    },
  });

  const open = new Map<string, number>();
  const interceptor: Interceptor = (next) => async (req) => {
    const labels = { service: req.service.typeName, method: req.method.name };
    const started = performance.now();
    let finished = false;
    inFlight.inc(labels);
    open.set(labels.method, (open.get(labels.method) ?? 0) + 1);
    const finish = (code: string) => {
      if (finished) return;
      finished = true;
      inFlight.dec(labels);
      open.set(labels.method, (open.get(labels.method) ?? 1) - 1);
      rpcs.inc({ ...labels, code });
      latency.observe({ ...labels, code }, (performance.now() - started) / 1000);
    };
    const isBridge = req.service.typeName === LiveKitBridge.typeName;
    const carriesAudio =
      isBridge && (req.method.name === "StreamAudio" || req.method.name === "AudioSession");
    if (carriesAudio && req.stream) {
      req = {
        ...req,
        message: countChunks(
          req.message as AsyncIterable<AudioChunk | AudioSessionRequest>,
          "to_room",
        ),
      } as typeof req;
    }
    try {
      const res = await next(req);
      if (isBridge && req.method.name === "JoinRoom" && !res.stream) {
        const userId = (req.message as { userId?: string }).userId;
        if (userId !== undefined && userId !== "") totals.users.add(userId);
      }
      if (!res.stream) {
        finish("OK");
        return res;
      }
      let outcome: string | undefined;
      const message = res.message;
      const wrapped = async function* () {
        try {
          for await (const item of message) {
            if (carriesAudio) {
              const pcm = pcmOf(item as AudioChunk | AudioSessionResponse);
              if (pcm !== undefined) {
                chunks.inc({ direction: "to_cloud" });
                bytes.inc({ direction: "to_cloud" }, pcm.byteLength);
              }
            }
            if (isBridge && req.method.name === "PlayAudio") {
              outcome = playbackOutcome(item as PlayAudioEvent) ?? outcome;
            }
            yield item;
          }
          finish("OK");
        } catch (error) {
          finish(codeName(error));
          throw error;
        } finally {
          if (isBridge && req.method.name === "PlayAudio") {
            playbacks.inc({ outcome: outcome ?? "error" });
          }
          // A client that went away ends the generator without an error.
          finish("Canceled");
        }
      };
      return { ...res, message: wrapped() } as typeof res;
    } catch (error) {
      finish(codeName(error));
      throw error;
    }
  };

  async function* countChunks(
    source: AsyncIterable<AudioChunk | AudioSessionRequest>,
    direction: string,
  ) {
    for await (const message of source) {
      const pcm = pcmOf(message);
      if (pcm !== undefined) {
        chunks.inc({ direction });
        bytes.inc({ direction }, pcm.byteLength);
      }
      yield message;
    }
  }

  return {
    interceptor,
    render: () => registry.metrics(),
    contentType: registry.contentType,
    registry,
    openCalls: (method) => open.get(method) ?? 0,
    audioLatency: createAudioLatencyHistogram(registry),
  };
}

/** The PCM a StreamAudio chunk or an AudioSession message carries, if any. */
function pcmOf(
  message: AudioChunk | AudioSessionRequest | AudioSessionResponse,
): Uint8Array | undefined {
  if ("pcmData" in message) return message.pcmData;
  return message.message.case === "audio" ? message.message.value.pcmData : undefined;
}

function playbackOutcome(event: PlayAudioEvent): string | undefined {
  switch (event.type) {
    case PlayAudioEvent_EventType.COMPLETED:
      return "completed";
    case PlayAudioEvent_EventType.FAILED:
      return "failed";
    case PlayAudioEvent_EventType.STOPPED:
      return "stopped";
    default:
      return undefined;
  }
}
