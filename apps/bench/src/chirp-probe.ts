import type { BridgeClient } from "@mentra/bridge-client";
import {
  chirpProbe,
  feedPaced,
  joinParticipant,
  type LiveKitCredentials,
  type PathLatency,
  pathLatency,
  publishTimedMic,
  recordTimedTrack,
  type TimedFrame,
  waitFor,
} from "@mentra/test-kit";
import { bridgeIdentity } from "./bridge-launch.js";
import { markWithin } from "./mark-within.js";
import { sleep } from "./sleep.js";
import { type Percentiles, percentiles } from "./stats.js";

/** One direction of the chirp comparison: the bridge's path against a direct one. */
export interface ChirpPath {
  /** Per frame, arrival − hand-over, ms: participant to participant through LiveKit. */
  readonly directMs: Percentiles;
  /** The same through the bridge (and gRPC to the cloud client on this machine). */
  readonly bridgedMs: Percentiles;
  /** bridged − direct at p50, ms: what the bridge adds end to end. */
  readonly addedP50Ms: number;
  /** Median correlation peak of the chirp's pieces on each path (how surely it was found). */
  readonly peaks: { readonly direct: number; readonly bridged: number };
  /** Both paths' chirps were found (peaks ≥ {@link MIN_PEAK}); otherwise the figures mean nothing. */
  readonly found: boolean;
}

/** Below this correlation peak a path's chirp counts as not found (Opus keeps it above 0.85). */
const MIN_PEAK = 0.6;

/** Both directions, measured one after the other with the step's load running. */
export interface ChirpResult {
  readonly roomToCloud: ChirpPath;
  readonly cloudToRoom: ChirpPath;
}

const PROBE = chirpProbe({ leadInMs: 1_500, tailMs: 500 });
function compare(direct: PathLatency, bridged: PathLatency): ChirpPath {
  const d = percentiles(direct.latenciesMs);
  const b = percentiles(bridged.latenciesMs);
  return {
    directMs: d,
    bridgedMs: b,
    addedP50Ms: b.p50 - d.p50,
    peaks: { direct: direct.peak, bridged: bridged.peak },
    found: direct.peak >= MIN_PEAK && bridged.peak >= MIN_PEAK,
  };
}

/**
 * Measures what the bridge adds end to end, by chirp, in one room of its own: glasses,
 * a peer, and a cloud session. Room→cloud: the glasses' microphone plays the chirp; the
 * peer hears it directly and the cloud through the bridge. Cloud→room: the cloud and the
 * peer play it at once; the glasses hear both. Leaves the room before it returns.
 */
export async function measureChirpPaths(
  creds: LiveKitCredentials,
  client: BridgeClient,
  tag: string,
): Promise<ChirpResult> {
  const userId = `chirp-${tag}`;
  const roomName = `bench-chirp-${tag}-${Date.now()}`;
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const device = await joinParticipant(creds, roomName, `glasses-${userId}`);
    cleanups.push(() => device.close());
    const peer = await joinParticipant(creds, roomName, `peer-${userId}`);
    cleanups.push(() => peer.close());
    const session = await client.join({
      userId,
      roomName,
      targetIdentity: device.identity,
      pcmByteOrder: "little",
    });
    const cloudFrames: TimedFrame[] = [];
    const reading = (async () => {
      for await (const frame of session.audio) {
        cloudFrames.push({ samples: frame.samples, at: Date.now() });
      }
    })();
    // Leaving ends session.audio, and with it the reading loop.
    cleanups.push(async () => {
      await session.leave("chirp probe over");
      await reading.catch(() => {});
    });

    // Room → cloud.
    const deviceMic = await publishTimedMic(device);
    cleanups.push(() => deviceMic.close());
    const heardByPeer = recordTimedTrack(peer, device.identity, deviceMic.name);
    const micHandedAt = await feedPaced(PROBE.signal, PROBE.chunkSamples, (chunk) =>
      deviceMic.write(chunk),
    );
    await sleep(300);
    const roomToCloud = compare(
      pathLatency(PROBE, await heardByPeer.stop(), micHandedAt),
      pathLatency(PROBE, cloudFrames.splice(0), micHandedAt),
    );
    await deviceMic.close();

    // Cloud → room: publish the speaker track first (its first audio would otherwise be
    // held while it is published), then the cloud and the peer play the chirp together.
    const peerMic = await publishTimedMic(peer);
    cleanups.push(() => peerMic.close());
    const fromBridge = recordTimedTrack(device, bridgeIdentity(userId), "speaker");
    const fromPeer = recordTimedTrack(device, peer.identity, peerMic.name);
    session.send(new Int16Array(PROBE.sampleRate / 10), {
      trackId: 0,
      sampleRate: PROBE.sampleRate,
    });
    await markWithin(session, 0, "primed", 10_000);
    let subscribed = false;
    void Promise.all([fromBridge.subscribed, fromPeer.subscribed]).then(() => {
      subscribed = true;
    });
    await waitFor(() => subscribed, { timeoutMs: 10_000, description: "both tracks subscribed" });
    const [bridgeHandedAt, peerHandedAt] = await Promise.all([
      feedPaced(PROBE.signal, PROBE.chunkSamples, (chunk) =>
        session.send(chunk, { trackId: 0, sampleRate: PROBE.sampleRate }),
      ),
      feedPaced(PROBE.signal, PROBE.chunkSamples, (chunk) => peerMic.write(chunk)),
    ]);
    await sleep(300);
    const cloudToRoom = compare(
      pathLatency(PROBE, await fromPeer.stop(), peerHandedAt),
      pathLatency(PROBE, await fromBridge.stop(), bridgeHandedAt),
    );
    return { roomToCloud, cloudToRoom };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}
