import * as net from "node:net";
import { e2eGate } from "@mentra/livekit-rig";
import { mintToken } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BridgeRig, startBridgeRig, uniqueRoom } from "./harness.js";

const gate = await e2eGate();

/** A loopback port that accepts TCP connections and never answers. */
function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

describe.skipIf(gate === "skip")(
  "JoinRoom failures come back as success=false (real LiveKit)",
  () => {
    let rig: BridgeRig;

    beforeAll(async () => {
      rig = await startBridgeRig({ LIVEKIT_CONNECT_TIMEOUT_MS: "1500" });
    });
    afterAll(async () => {
      await rig?.close();
    });

    it("a token signed with the wrong secret", async () => {
      const room = uniqueRoom("u-badtoken");
      const token = await mintToken(
        { ...rig.creds, apiSecret: "not-the-secret-0123456789abcdef" },
        room,
        "x",
      );
      const started = Date.now();
      const response = await rig.client.joinRoom({ userId: "u-badtoken", roomName: room, token });
      expect(response.success).toBe(false);
      expect(response.error).toContain(`could not join the room at ${rig.creds.url}`);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(rig.registry.get("u-badtoken")).toBeUndefined();
      expect((await rig.client.healthCheck({})).activeSessions).toBe(0);
    });

    it("a LiveKit URL where nothing answers, within the connect timeout", async () => {
      const silent = await silentServer();
      try {
        const room = uniqueRoom("u-silent");
        // Another server than the bridge's own: the caller must bring its token.
        const token = await mintToken(rig.creds, room, "u-silent");
        const started = Date.now();
        const response = await rig.client.joinRoom({
          userId: "u-silent",
          roomName: room,
          livekitUrl: `ws://127.0.0.1:${silent.port}`,
          token,
        });
        const took = Date.now() - started;
        expect(response.success).toBe(false);
        expect(response.error).toMatch(/could not join the room at ws:\/\/127\.0\.0\.1:\d+: .+/);
        expect(took).toBeLessThan(2_500);
        expect(rig.registry.get("u-silent")).toBeUndefined();
      } finally {
        await silent.close();
      }
    });

    it("a closed port fails fast", async () => {
      const silent = await silentServer();
      const port = silent.port;
      await silent.close();
      const room = uniqueRoom("u-closed");
      const response = await rig.client.joinRoom({
        userId: "u-closed",
        roomName: room,
        livekitUrl: `ws://127.0.0.1:${port}`,
        token: await mintToken(rig.creds, room, "u-closed"),
      });
      expect(response.success).toBe(false);
      expect(response.error).toContain("could not join the room");
    });
  },
);
