import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { e2eGate } from "@mentra/livekit-rig";
import { listParticipantIdentities, mintToken, recordFault, waitFor } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp } from "../support/app.js";
import { type BridgeRig, clientWithApiKey, startBridgeRig, uniqueRoom } from "./harness.js";

const gate = await e2eGate();
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;

/** A stranger's "LiveKit" on loopback: accepts TCP and records every byte sent to it. */
interface Recorder {
  readonly port: number;
  connections: number;
  received(): string;
  close(): Promise<void>;
}

function startRecorder(): Promise<Recorder> {
  const sockets = new Set<net.Socket>();
  const chunks: Buffer[] = [];
  const recorder = {
    port: 0,
    connections: 0,
    received: () => Buffer.concat(chunks).toString("latin1"),
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
  const server = net.createServer((socket) => {
    recorder.connections++;
    sockets.add(socket);
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      recorder.port = (server.address() as net.AddressInfo).port;
      resolve(recorder);
    });
  });
}

async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("the call succeeded, expected a refusal");
}

/** The root-namespace end of the rig's veth link: a non-loopback address the rig created. */
function vethHostAddress(livekitUrl: string): string {
  const nsIp = new URL(livekitUrl).hostname;
  const prefix = nsIp.split(".").slice(0, 3).join(".");
  const last = Number(nsIp.split(".")[3]);
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const address of addresses ?? []) {
      const parts = address.address.split(".");
      if (address.family !== "IPv4" || parts.slice(0, 3).join(".") !== prefix) continue;
      // Same /30 as the namespace end.
      if (Math.floor(Number(parts[3]) / 4) === Math.floor(last / 4)) return address.address;
    }
  }
  throw new Error(`no local address on the rig's link to ${nsIp}`);
}

describe.skipIf(gate === "skip")("JoinRoom never hands a minted token to a stranger", () => {
  let rig: BridgeRig;
  let recorder: Recorder;

  beforeAll(async () => {
    rig = await startBridgeRig({ LIVEKIT_CONNECT_TIMEOUT_MS: "1500" });
    recorder = await startRecorder();
  });
  afterAll(async () => {
    await recorder?.close();
    await rig?.close();
  });

  it("refuses every URL that is not its LiveKit, sending nothing anywhere; the user's session stays", async () => {
    const userId = "u-victim";
    const legitRoom = uniqueRoom("legit");
    const joined = await rig.client.joinRoom({ userId, roomName: legitRoom });
    expect(joined.success).toBe(true);
    const session = rig.registry.get(userId);
    const victimRoom = uniqueRoom("victim-room");
    const rigHost = new URL(rig.creds.url).host;
    const strangers = [
      `ws://127.0.0.1:${recorder.port}`,
      `http://127.0.0.1:${recorder.port}/rtc`,
      `wss://127.0.0.1:${recorder.port}`,
      `ws://localhost:${recorder.port}`,
      // The configured host as userinfo: the URL still reaches the recorder.
      `ws://${rigHost}@127.0.0.1:${recorder.port}`,
      `ws://[::ffff:127.0.0.1]:${recorder.port}`,
    ];
    const messages: string[] = [];
    for (const livekitUrl of strangers) {
      const error = await refusal(
        rig.client.joinRoom({ userId, roomName: victimRoom, livekitUrl, token: "" }),
      );
      expect(error.code, livekitUrl).toBe(Code.PermissionDenied);
      expect(error.rawMessage).toContain("LIVEKIT_URL_ALLOWLIST");
      expect(error.rawMessage).toContain("Send your own token");
      messages.push(error.rawMessage);
    }
    // Give a connect that slipped through time to arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(recorder.connections).toBe(0);
    expect(recorder.received()).toBe("");
    expect(await listParticipantIdentities(rig.creds, victimRoom)).toEqual([]);
    // The refused joins did not touch the user's live session.
    expect(rig.registry.get(userId)).toBe(session);
    expect(session?.status().connected).toBe(true);
    await rig.client.leaveRoom({ userId });
    recordFault({
      kind: "input",
      what: `JoinRoom without a token for room "victim-room" naming ${strangers.length} LiveKit URLs of a stranger's server (ws, http, wss, localhost, configured host as userinfo, IPv4-mapped)`,
      expected:
        "PermissionDenied before any connection; no byte and no token reach the stranger's server; the user's live session untouched",
      observed: `${strangers.length}/${strangers.length} PermissionDenied; stranger's server saw ${recorder.connections} connections, 0 bytes; victim room empty; session still connected`,
    });
  });

  it("still mints for its own LiveKit, however the URL is spelled", async () => {
    const spellings = [
      "",
      rig.creds.url,
      rig.creds.url.replace(/^ws:/, "http:"),
      `${rig.creds.url}/`,
    ];
    for (const [i, livekitUrl] of spellings.entries()) {
      const room = uniqueRoom(`own-${i}`);
      const response = await rig.client.joinRoom({
        userId: `u-own-${i}`,
        roomName: room,
        livekitUrl,
      });
      expect(response.success, livekitUrl).toBe(true);
      expect(await listParticipantIdentities(rig.creds, room)).toEqual([`cloud-agent:u-own-${i}`]);
      await rig.client.leaveRoom({ userId: `u-own-${i}` });
    }
  });

  it("sends the caller's own token to the server the caller names", async () => {
    // A bridge whose own LiveKit is elsewhere (a closed port) and that cannot mint.
    const { app, url } = await startApp({});
    try {
      const client = createClient(LiveKitBridge, createGrpcTransport({ baseUrl: url }));
      const room = uniqueRoom("own-token");
      const token = await mintToken(rig.creds, room, "caller-chosen");
      const response = await client.joinRoom({
        userId: "u-own-token",
        roomName: room,
        livekitUrl: rig.creds.url,
        token,
      });
      expect(response.success).toBe(true);
      expect(await listParticipantIdentities(rig.creds, room)).toEqual(["caller-chosen"]);
      await client.leaveRoom({ userId: "u-own-token" });
    } finally {
      await app.close();
    }
  });

  it("sends minted tokens to an allow-listed server (the recorder sees the JWT)", async () => {
    // The control: the recorder does catch a token when one is sent to it.
    const listed = `ws://127.0.0.1:${recorder.port}`;
    const bridge = await rig.startBridge({ LIVEKIT_URL_ALLOWLIST: listed });
    const response = await bridge.client.joinRoom({
      userId: "u-listed",
      roomName: uniqueRoom("listed"),
      livekitUrl: listed,
    });
    expect(response.success).toBe(false);
    expect(recorder.connections).toBeGreaterThan(0);
    expect(recorder.received()).toMatch(JWT);
    await bridge.close();
  });

  it("mints only for local or authenticated callers: a caller beyond loopback must bring a token", async () => {
    const hostIp = vethHostAddress(rig.creds.url);
    const remote = await rig.startBridge({ BRIDGE_HOST: hostIp });
    const room = uniqueRoom("remote");
    try {
      const error = await refusal(remote.client.joinRoom({ userId: "u-remote", roomName: room }));
      expect(error.code).toBe(Code.PermissionDenied);
      expect(error.rawMessage).toContain(`this call came from ${hostIp}`);
      expect(error.rawMessage).toContain("BRIDGE_API_KEY");
      expect(await listParticipantIdentities(rig.creds, room)).toEqual([]);
      // Its own token is fine.
      const token = await mintToken(rig.creds, room, "remote-own");
      const own = await remote.client.joinRoom({ userId: "u-remote", roomName: room, token });
      expect(own.success).toBe(true);
      await remote.client.leaveRoom({ userId: "u-remote" });
    } finally {
      await remote.close();
    }

    // With BRIDGE_API_KEY, an authenticated caller beyond loopback gets a minted token.
    const apiKey = "k".repeat(24);
    const { app, url } = await startApp({
      env: { BRIDGE_HOST: hostIp, BRIDGE_API_KEY: apiKey },
      livekitUrl: rig.creds.url,
      livekitKeys: { apiKey: rig.creds.apiKey, apiSecret: rig.creds.apiSecret },
    });
    try {
      const client = clientWithApiKey(url, apiKey);
      const authed = uniqueRoom("remote-authed");
      const response = await client.joinRoom({ userId: "u-authed", roomName: authed });
      expect(response.success).toBe(true);
      await waitFor(async () =>
        (await listParticipantIdentities(rig.creds, authed)).includes("cloud-agent:u-authed"),
      );
      await client.leaveRoom({ userId: "u-authed" });
    } finally {
      await app.close();
    }
    recordFault({
      kind: "input",
      what: "JoinRoom without a token from a caller beyond loopback (the rig's veth address) to a bridge without BRIDGE_API_KEY",
      expected:
        "PermissionDenied naming the caller's address; nobody joins the room; with its own token, or with BRIDGE_API_KEY, it joins",
      observed: `PermissionDenied ("this call came from ${hostIp}"); room empty; own token joined; authenticated caller got a minted token and joined`,
    });
  });

  it("mints for a caller on the Unix socket", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bridge-mint-"));
    const socketPath = path.join(dir, "bridge.sock");
    const { app } = await startApp({
      env: { BRIDGE_UNIX_SOCKET: socketPath },
      livekitUrl: rig.creds.url,
      livekitKeys: { apiKey: rig.creds.apiKey, apiSecret: rig.creds.apiSecret },
    });
    try {
      const client = createClient(
        LiveKitBridge,
        createGrpcTransport({
          baseUrl: "http://localhost",
          nodeOptions: { createConnection: () => net.connect(socketPath) },
        }),
      );
      const room = uniqueRoom("unix");
      const response = await client.joinRoom({ userId: "u-unix", roomName: room });
      expect(response.success).toBe(true);
      await client.leaveRoom({ userId: "u-unix" });
    } finally {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
