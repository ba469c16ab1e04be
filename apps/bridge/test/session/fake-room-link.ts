import type {
  Disconnect,
  OutboundTrack,
  OutboundTrackOptions,
  RoomLink,
  RoomLinkOptions,
} from "../../src/livekit/index.js";
import { NO_LINK_STATS } from "../../src/livekit/index.js";

/** An outbound track that plays out only when the test says so. */
export interface FakeTrack extends OutboundTrack {
  readonly options: OutboundTrackOptions;
  /** Plays out `ms` more of what was written (never past it). */
  play(ms: number): void;
  /** The source ran dry for `ms` while audio waited (an underrun); `droppedMs` dropped after it to catch up. */
  starve(ms: number, droppedMs?: number): void;
  readonly closed: boolean;
}

function createFakeTrack(options: OutboundTrackOptions): FakeTrack {
  let written = 0;
  let played = 0;
  let closed = false;
  let underruns = { count: 0, ms: 0, lateDroppedMs: 0 };
  return {
    options,
    name: options.name,
    sid: `TR_${options.name}`,
    async write(samples, sampleRate, channels) {
      written += (samples.length / channels / sampleRate) * 1000;
    },
    bufferedMs: () => 0,
    queuedMs: () => written - played,
    playedOutMs: () => played,
    writtenMs: () => written,
    underruns: () => underruns,
    starve(ms, droppedMs = 0) {
      underruns = {
        count: underruns.count + 1,
        ms: underruns.ms + ms,
        lateDroppedMs: underruns.lateDroppedMs + droppedMs,
      };
    },
    clear() {
      const dropped = written - played;
      written = played;
      return dropped;
    },
    drained: async () => {},
    async close() {
      closed = true;
    },
    play(ms) {
      played = Math.min(written, played + ms);
    },
    get closed() {
      return closed;
    },
  };
}

/** One in-memory room link: the test plays the room through its handlers. */
export interface FakeLink extends RoomLink {
  readonly options: RoomLinkOptions;
  readonly tracks: FakeTrack[];
  readonly closed: boolean;
  /** The room is lost, as rtc-node reports it. */
  lose(disconnect: Disconnect): void;
}

function createFakeLink(options: RoomLinkOptions, index: number): FakeLink {
  const tracks: FakeTrack[] = [];
  let closed = false;
  return {
    options,
    tracks,
    identity: "bridge:user-1",
    participantSid: `PA_${index}`,
    participantCount: () => (closed ? 0 : 2),
    async publishTrack(trackOptions) {
      const track = createFakeTrack(trackOptions);
      tracks.push(track);
      return track;
    },
    setReceiveFormat() {},
    stats: async () => NO_LINK_STATS,
    openHandles: () => (closed ? 0 : 1 + tracks.filter((t) => !t.closed).length),
    async close() {
      closed = true;
      for (const track of tracks) await track.close();
    },
    lose(disconnect) {
      closed = true;
      options.handlers.onDisconnected(disconnect);
    },
    get closed() {
      return closed;
    },
  };
}

/**
 * A stand-in for connectRoomLink: each call joins (a new FakeLink) unless the test queued
 * a failure for it. Every link it made stays in `links`, every token in `tokens`.
 */
export function createFakeConnector() {
  const links: FakeLink[] = [];
  const tokens: string[] = [];
  const failures: Error[] = [];
  let calls = 0;
  return {
    links,
    tokens,
    get calls() {
      return calls;
    },
    /** The next `count` connects fail. */
    failNext(count: number) {
      for (let i = 0; i < count; i++) failures.push(new Error("could not join (fake)"));
    },
    /** The latest link. */
    get link(): FakeLink {
      const link = links.at(-1);
      if (link === undefined) throw new Error("no link yet");
      return link;
    },
    connect: async (options: RoomLinkOptions): Promise<RoomLink> => {
      calls++;
      tokens.push(options.token);
      options.onConnectSettled?.();
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      const link = createFakeLink(options, links.length);
      links.push(link);
      return link;
    },
  };
}
