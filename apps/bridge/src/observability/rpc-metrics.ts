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
import { labelledCounter } from "./prom-metrics.js";

/** Options of {@link createRpcMetrics}. */
export interface RpcMetricsOptions {
  readonly registry: prom.Registry;
  /** Called with the user of every JoinRoom that succeeded. */
  readonly onJoin: (userId: string) => void;
}

/** The per-call metrics: counts, latency, calls open, and the audio and playbacks they carry. */
export interface RpcMetrics {
  /** Counts every RPC by method and code, its latency, and the audio it carries. */
  readonly interceptor: Interceptor;
  /** Calls of a method open now, e.g. "PlayAudio". */
  openCalls(method: string): number;
}

/** A message of a call that carries audio, either way. */
type AudioMessage = AudioChunk | AudioSessionRequest | AudioSessionResponse;

/** What a streaming response is watched for. */
interface WatchedCall {
  /** StreamAudio or AudioSession: its PCM is counted. */
  readonly carriesAudio: boolean;
  /** PlayAudio: its outcome is counted. */
  readonly playAudio: boolean;
}

/**
 * Registers `bridge_rpcs_total`, `bridge_rpc_duration_seconds`, `bridge_rpcs_in_flight`,
 * `bridge_audio_chunks_total`, `bridge_audio_bytes_total` and `bridge_playbacks_total`,
 * and returns the interceptor that feeds them.
 */
export function createRpcMetrics(options: RpcMetricsOptions): RpcMetrics {
  const { registry } = options;
  const rpcs = labelledCounter(
    registry,
    "bridge_rpcs_total",
    "RPCs finished, by service, method and code.",
    ["service", "method", "code"],
  );
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
  const chunks = labelledCounter(
    registry,
    "bridge_audio_chunks_total",
    "AudioChunk messages on StreamAudio, by direction (to_room, to_cloud).",
    ["direction"],
  );
  const bytes = labelledCounter(
    registry,
    "bridge_audio_bytes_total",
    "PCM bytes on StreamAudio, by direction (to_room, to_cloud).",
    ["direction"],
  );
  const playbacks = labelledCounter(
    registry,
    "bridge_playbacks_total",
    "PlayAudio calls by outcome (completed, failed, stopped, error).",
    ["outcome"],
  );
  const open = new Map<string, number>();

  /** Counts a call open; the function returned finishes it with `code`, once. */
  function openCall(labels: { service: string; method: string }): (code: string) => void {
    const started = performance.now();
    let finished = false;
    inFlight.inc(labels);
    open.set(labels.method, (open.get(labels.method) ?? 0) + 1);
    return (code) => {
      if (finished) return;
      finished = true;
      inFlight.dec(labels);
      open.set(labels.method, (open.get(labels.method) ?? 1) - 1);
      rpcs.inc({ ...labels, code });
      latency.observe({ ...labels, code }, (performance.now() - started) / 1000);
    };
  }

  function countAudio(message: AudioMessage, direction: string): void {
    const pcm = pcmOf(message);
    if (pcm === undefined) return;
    chunks.inc({ direction });
    bytes.inc({ direction }, pcm.byteLength);
  }

  async function* countChunks(source: AsyncIterable<AudioMessage>, direction: string) {
    for await (const message of source) {
      countAudio(message, direction);
      yield message;
    }
  }

  /** Passes a streaming response on, counting its audio and outcome, and finishes the call. */
  async function* watchResponses<T>(
    messages: AsyncIterable<T>,
    call: WatchedCall,
    finish: (code: string) => void,
  ): AsyncIterable<T> {
    let outcome: string | undefined;
    try {
      for await (const item of messages) {
        if (call.carriesAudio) countAudio(item as AudioMessage, "to_cloud");
        if (call.playAudio) outcome = playbackOutcome(item as PlayAudioEvent) ?? outcome;
        yield item;
      }
      finish("OK");
    } catch (error) {
      finish(codeName(error));
      throw error;
    } finally {
      if (call.playAudio) playbacks.inc({ outcome: outcome ?? "error" });
      // A client that went away ends the generator without an error.
      finish("Canceled");
    }
  }

  const interceptor: Interceptor = (next) => async (req) => {
    const finish = openCall({ service: req.service.typeName, method: req.method.name });
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
        if (userId !== undefined && userId !== "") options.onJoin(userId);
      }
      if (!res.stream) {
        finish("OK");
        return res;
      }
      const call = { carriesAudio, playAudio: isBridge && req.method.name === "PlayAudio" };
      return { ...res, message: watchResponses(res.message, call, finish) } as typeof res;
    } catch (error) {
      finish(codeName(error));
      throw error;
    }
  };

  return { interceptor, openCalls: (method) => open.get(method) ?? 0 };
}

function codeName(error: unknown): string {
  return Code[ConnectError.from(error).code] ?? "Unknown";
}

/** The PCM a StreamAudio chunk or an AudioSession message carries, if any. */
function pcmOf(message: AudioMessage): Uint8Array | undefined {
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
