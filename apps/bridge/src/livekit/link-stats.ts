import type { Room } from "@livekit/rtc-node";

/** Media figures of one room link, cumulative since it joined (WebRTC's own counters). */
export interface LinkStats {
  /** Room → bridge: RTP audio packets received and lost, summed over subscribed tracks. */
  readonly packetsReceived: number;
  readonly packetsLost: number;
  /** Room → bridge: audio the decoder had to invent for lost or late packets (ms). */
  readonly concealedMs: number;
  /** Room → bridge: the largest interarrival jitter of any track now (ms). */
  readonly jitterMs: number;
  /** Bridge → room: RTP audio packets sent, and those the SFU reports it never got. */
  readonly packetsSent: number;
  readonly packetsLostByPeer: number;
  /** Round trip to the SFU from its receiver reports (ms); 0 until one came. */
  readonly roundTripMs: number;
}

/** A link that has not measured anything (yet). */
export const NO_LINK_STATS: LinkStats = {
  packetsReceived: 0,
  packetsLost: 0,
  concealedMs: 0,
  jitterMs: 0,
  packetsSent: 0,
  packetsLostByPeer: 0,
  roundTripMs: 0,
};

type Report = Awaited<ReturnType<Room["getRtcStats"]>>;

const num = (value: number | bigint | undefined): number => Number(value ?? 0);

/** Per RTP stream (by SSRC) figures of one report. */
interface StreamFigures {
  readonly received: number;
  readonly lost: number;
  readonly concealedMs: number;
  readonly sent: number;
  readonly lostByPeer: number;
}

/**
 * Reads a room's statistics over its life. WebRTC drops a stream's entry when its track
 * ends, so each stream's last figures are kept and the sums never go back.
 */
export function createLinkStatsReader(room: Room): () => Promise<LinkStats> {
  const streams = new Map<string, StreamFigures>();
  return async () => {
    const now = readReport(await room.getRtcStats());
    for (const [ssrc, figures] of now.streams) streams.set(ssrc, figures);
    const sum = (pick: (f: StreamFigures) => number) =>
      [...streams.values()].reduce((total, f) => total + pick(f), 0);
    return {
      packetsReceived: sum((f) => f.received),
      packetsLost: sum((f) => f.lost),
      concealedMs: Math.round(sum((f) => f.concealedMs)),
      jitterMs: Math.round(now.jitterMs * 10) / 10,
      packetsSent: sum((f) => f.sent),
      packetsLostByPeer: sum((f) => f.lostByPeer),
      roundTripMs: Math.round(now.roundTripMs * 10) / 10,
    };
  };
}

/** The audio streams' figures of one session-stats report, and its gauges. */
export function readReport(report: Report): {
  streams: Map<string, StreamFigures>;
  jitterMs: number;
  roundTripMs: number;
} {
  // With livekit-server's single peer connection both directions share the
  // "publisher" connection; with two connections, received audio is on the other.
  const entries = [...report.subscriberStats, ...report.publisherStats];
  const clockRates = new Map<string, number>();
  for (const entry of entries) {
    if (entry.stats.case === "codec") {
      const { rtc, codec } = entry.stats.value;
      if (rtc?.id !== undefined) clockRates.set(rtc.id, num(codec?.clockRate));
    }
  }
  const streams = new Map<string, StreamFigures>();
  const add = (key: string, figures: Partial<StreamFigures>) => {
    const old = streams.get(key) ?? {
      received: 0,
      lost: 0,
      concealedMs: 0,
      sent: 0,
      lostByPeer: 0,
    };
    streams.set(key, { ...old, ...figures });
  };
  let jitterMs = 0;
  let roundTripMs = 0;
  for (const { stats } of entries) {
    if (stats.case === "inboundRtp" && stats.value.stream?.kind === "audio") {
      const { stream, received, inbound } = stats.value;
      const rate = clockRates.get(stream?.codecId ?? "") || 48_000;
      add(`in:${stream?.ssrc}`, {
        received: num(received?.packetsReceived),
        // RTCP counts duplicates against losses, so the figure can go below zero.
        lost: Math.max(0, num(received?.packetsLost)),
        concealedMs: (num(inbound?.concealedSamples) / rate) * 1000,
      });
      jitterMs = Math.max(jitterMs, num(received?.jitter) * 1000);
    }
    if (stats.case === "outboundRtp" && stats.value.stream?.kind === "audio") {
      add(`out:${stats.value.stream.ssrc}`, { sent: num(stats.value.sent?.packetsSent) });
    }
    if (stats.case === "remoteInboundRtp" && stats.value.stream?.kind === "audio") {
      add(`out:${stats.value.stream.ssrc}`, {
        lostByPeer: Math.max(0, num(stats.value.received?.packetsLost)),
      });
      roundTripMs = Math.max(roundTripMs, num(stats.value.remoteInbound?.roundTripTime) * 1000);
    }
  }
  return { streams, jitterMs, roundTripMs };
}
