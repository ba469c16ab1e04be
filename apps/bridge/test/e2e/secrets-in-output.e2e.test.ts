import { PlayAudioEvent_EventType } from "@mentra/bridge-proto";
import { e2eGate, type LiveKitRig, startLiveKit } from "@mentra/livekit-rig";
import { mintToken, recordFault } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AudioServer, readFixture, startAudioServer } from "../support/audio-server.js";
import { type BridgeProcess, startBridgeProcess } from "../support/bridge-process.js";
import { clientWithApiKey, uniqueRoom } from "./harness.js";

// Issue #17 finding 8: no output of the bridge process (stdout and stderr, native
// LiveKit lines included) may carry a token, a key, a secret or URL credentials.

const gate = await e2eGate();
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;
const BRIDGE_API_KEY = "bridge-key-0f3a9c7e5d1b2468ace";

function startBridge(rig: LiveKitRig, env: NodeJS.ProcessEnv): Promise<BridgeProcess> {
  return startBridgeProcess({
    env: {
      LIVEKIT_URL: rig.url,
      LIVEKIT_API_KEY: rig.apiKey,
      LIVEKIT_API_SECRET: rig.apiSecret,
      BRIDGE_API_KEY,
      LOG_LEVEL: "debug",
      PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
      ...env,
    },
    stdout: true,
  });
}

/** Joins, refreshes tokens and plays credentialed URLs through a running bridge. */
async function exercise(rig: LiveKitRig, port: number, audio: AudioServer) {
  const client = clientWithApiKey(`http://127.0.0.1:${port}`, BRIDGE_API_KEY);
  const creds = { url: rig.url, apiKey: rig.apiKey, apiSecret: rig.apiSecret };
  const callerTokens: string[] = [];
  // Two users with minted tokens, one with its own; LiveKit sends each a RefreshToken at once.
  for (const userId of ["u-secret-1", "u-secret-2"]) {
    expect((await client.joinRoom({ userId, roomName: uniqueRoom(userId) })).success).toBe(true);
  }
  const ownRoom = uniqueRoom("u-secret-3");
  const ownToken = await mintToken(creds, ownRoom, "own-identity");
  callerTokens.push(ownToken);
  expect(
    (await client.joinRoom({ userId: "u-secret-3", roomName: ownRoom, token: ownToken })).success,
  ).toBe(true);
  // A join that fails, with the caller's token for a closed port (errors quote URLs).
  const badToken = await mintToken(creds, "nowhere", "nobody");
  callerTokens.push(badToken);
  const failed = await client.joinRoom({
    userId: "u-secret-4",
    roomName: "nowhere",
    token: badToken,
    livekitUrl: "ws://127.0.0.1:1",
  });
  expect(failed.success).toBe(false);

  const outcomes: string[] = [];
  const played = [
    `http://user:pass@${audio.origin.slice("http://".length)}/tone.wav`,
    `http://user:pass@${audio.origin.slice("http://".length)}/missing.wav?token=${ownToken}`,
  ];
  for (const audioUrl of played) {
    for await (const event of client.playAudio({ userId: "u-secret-1", audioUrl, trackId: 1 })) {
      if (event.type === PlayAudioEvent_EventType.COMPLETED) outcomes.push("completed");
      if (event.type === PlayAudioEvent_EventType.FAILED)
        outcomes.push(`failed ${event.metadata.code}`);
      // What goes back to the cloud (which may log it) does not repeat the credentials.
      expect(`${event.error} ${event.metadata.url ?? ""}`).not.toContain("user:pass");
    }
  }
  expect(outcomes).toEqual(["completed", "failed http_status"]);
  for (const userId of ["u-secret-1", "u-secret-2", "u-secret-3"])
    await client.leaveRoom({ userId });
  return { callerTokens };
}

function leaks(output: string, rig: LiveKitRig, callerTokens: readonly string[]): string[] {
  const found: string[] = [];
  const jwt = JWT.exec(output);
  if (jwt !== null)
    found.push(
      `a JWT at ${jwt.index}: ${output.slice(Math.max(0, jwt.index - 80), jwt.index + 40)}`,
    );
  if (output.includes(rig.apiSecret)) found.push("the LiveKit API secret");
  if (output.includes(BRIDGE_API_KEY)) found.push("BRIDGE_API_KEY");
  if (output.includes("user:pass@")) found.push("URL credentials user:pass@");
  for (const token of callerTokens) if (output.includes(token)) found.push("a caller's token");
  // A token or signature split differently still shows as its last segment.
  for (const token of callerTokens) {
    const signature = token.split(".")[2] ?? "";
    if (signature.length > 10 && output.includes(signature)) found.push("a token signature");
  }
  return found;
}

describe.skipIf(gate === "skip")("no secret in any output of the bridge process", () => {
  let rig: LiveKitRig;
  let audio: AudioServer;

  beforeAll(async () => {
    rig = await startLiveKit({ isolate: "on" });
    audio = await startAudioServer();
    const wav = readFixture("wav-s16-8k-600.wav");
    audio.route("/tone.wav", (request, response) => {
      // The credentials reach the server (and only there).
      if (
        request.headers.authorization !== `Basic ${Buffer.from("user:pass").toString("base64")}`
      ) {
        response.writeHead(401).end();
        return;
      }
      response.writeHead(200, { "content-type": "audio/wav" }).end(wav);
    });
  });
  afterAll(async () => {
    await audio?.close();
    await rig?.close();
  });

  it.each([
    // At trace, tungstenite logs the signalling request with its Authorization header.
    ["trace", "RUST_LOG unset"],
    ["off", "RUST_LOG=debug inherited"],
  ] as const)(
    "native logs %s (%s): joins, token refresh, failed join, credentialed playback",
    async (nativeLevel, rustLog) => {
      const bridge = await startBridge(rig, {
        LIVEKIT_NATIVE_LOG_LEVEL: nativeLevel,
        RUST_LOG: rustLog === "RUST_LOG unset" ? "" : "debug",
        // Not "production": rtc-node's JavaScript logger then logs at debug too.
        NODE_ENV: "test",
      });
      let callerTokens: readonly string[] = [];
      try {
        ({ callerTokens } = await exercise(rig, bridge.port, audio));
        // LiveKit's RefreshToken for each join has arrived by now; give native logs a flush.
        await new Promise((resolve) => setTimeout(resolve, 1_500));
      } finally {
        expect(await bridge.stop()).toBe(0);
      }
      const output = bridge.output();
      const lines = output.split("\n").filter(Boolean);
      // The run really logged: debug lines, both playbacks, the failed join.
      expect(output).toContain('"playback started"');
      expect(output).toContain('"playback ended"');
      // The playback lines name the URL, without its credentials.
      expect(output).toMatch(
        /"url":"http:\/\/127\.0\.0\.1:\d+\/tone\.wav".*"msg":"playback started"/,
      );
      const nativeLines = lines.filter((line) => line.includes('"livekit native log"'));
      const native = nativeLines.length;
      // Native lines that carried a token (now scrubbed): the forwarding path is exercised.
      const nativeScrubbed = nativeLines.filter((line) => line.includes("[redacted]")).length;
      if (nativeLevel === "trace") {
        expect(native).toBeGreaterThan(100);
        expect(nativeScrubbed).toBeGreaterThan(0);
      } else expect(native).toBe(0);
      // rtc-node's JavaScript logger (pino, "lk-rtc") no longer writes to stdout itself:
      // its lines come through the bridge's logger ("Connect callback received" for each of the
      // four joins, the failed one included).
      expect(lines.filter((line) => line.includes('"name":"lk-rtc"'))).toEqual([]);
      const rtcLines = lines.filter((line) => line.includes('"msg":"rtc-node log"'));
      expect(rtcLines.filter((line) => line.includes("Connect callback received")).length).toBe(4);
      // env_logger's own format ("[2026-… DEBUG livekit…]") never appears.
      expect(lines.filter((line) => /^\[\d{4}-\d\d-\d\dT/.test(line))).toEqual([]);
      expect(leaks(output, rig, callerTokens)).toEqual([]);
      const redacted = (output.match(/\[redacted\]/g) ?? []).length;
      console.log(
        `native ${nativeLevel}: ${lines.length} output lines (${native} native, ${nativeScrubbed} of them scrubbed; ${rtcLines.length} of rtc-node's JS logger), ${redacted} redactions, no leak`,
      );
      recordFault({
        kind: "input",
        what: `Bridge process at LOG_LEVEL=debug, native logs ${nativeLevel} (${rustLog}): 3 joins (2 minted, 1 caller token) with LiveKit's RefreshToken, a failed join quoting its URL, PlayAudio of http://user:pass@… (played) and of a 404 with ?token=<JWT>`,
        expected:
          "stdout + stderr hold no JWT, no API secret or key, no caller token, no user:pass@",
        observed: `${lines.length} lines (${native} native lines forwarded, ${nativeScrubbed} of them scrubbed of a token), ${redacted} redactions; 0 leaks`,
      });
    },
    60_000,
  );
});
