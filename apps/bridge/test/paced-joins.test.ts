import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { describe, expect, it } from "vitest";
import { createBridgeServer, withPacedJoins } from "../src/server.js";
import { tcpAddress } from "./support/tools.js";

const SERVICE = "/mentra.livekit.bridge.LiveKitBridge";
const JOIN = `${SERVICE}/JoinRoom`;
const LEAVE = `${SERVICE}/LeaveRoom`;

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("withPacedJoins", () => {
  it("starts JoinRooms one per event-loop turn, in order, and never holds unordered RPCs", async () => {
    const started: string[] = [];
    const handler = withPacedJoins<{ url: string }, string>((req, res) => {
      started.push(`${req.url === JOIN ? "join" : "other"}:${res}`);
    });
    for (let i = 0; i < 3; i++) handler({ url: JOIN }, String(i));
    handler({ url: `${SERVICE}/HealthCheck` }, "h");
    handler({ url: `${SERVICE}/StreamAudio` }, "s");
    expect(started).toEqual(["other:h", "other:s"]);
    // One turn of the loop (I/O polled in between) per JoinRoom.
    await nextTurn();
    expect(started).toEqual(["other:h", "other:s", "join:0"]);
    await nextTurn();
    expect(started).toEqual(["other:h", "other:s", "join:0", "join:1"]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(["other:h", "other:s", "join:0", "join:1", "join:2"]);
    handler({ url: JOIN }, "3");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started.at(-1)).toBe("join:3");
  });

  it("starts a LeaveRoom sent after JoinRooms after them, through the same queue", async () => {
    const started: string[] = [];
    const handler = withPacedJoins<{ url: string }, string>((_req, res) => {
      started.push(res);
    });
    handler({ url: JOIN }, "join:0");
    handler({ url: LEAVE }, "leave:1");
    handler({ url: JOIN }, "join:2");
    handler({ url: LEAVE }, "leave:3");
    // Nothing overtakes the JoinRoom waiting for its turn.
    expect(started).toEqual([]);
    await nextTurn();
    expect(started).toEqual(["join:0"]);
    await nextTurn();
    expect(started).toEqual(["join:0", "leave:1"]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(["join:0", "leave:1", "join:2", "leave:3"]);
  });

  it("JoinRoom and LeaveRoom sent at once on one HTTP/2 connection reach their handlers in the order sent", async () => {
    // What the registry orders by: the moment a handler starts (request parsed).
    const entered: string[] = [];
    const server = createBridgeServer({
      host: "127.0.0.1",
      port: 0,
      routes: () => (router) =>
        router.service(LiveKitBridge, {
          joinRoom(request) {
            entered.push(`join:${request.roomName}`);
            return { success: true };
          },
          leaveRoom(request) {
            entered.push(`leave:${request.reason}`);
            return { success: true };
          },
        }),
    });
    const address = tcpAddress(await server.listen());
    const sessionManager = new Http2SessionManager(address.url);
    try {
      const client = createClient(
        LiveKitBridge,
        createGrpcTransport({ baseUrl: address.url, sessionManager }),
      );
      await client.leaveRoom({ userId: "warm-up", reason: "warm-up" });
      entered.length = 0;
      // Alternating, all sent at once, as the concurrency e2e does with real sessions.
      const sent: string[] = [];
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => {
          const isJoin = i % 2 === 0;
          sent.push(`${isJoin ? "join" : "leave"}:r${i}`);
          return isJoin
            ? client.joinRoom({ userId: "u", roomName: `r${i}` })
            : client.leaveRoom({ userId: "u", reason: `r${i}` });
        }),
      );
      expect(answers.every((answer) => answer.success)).toBe(true);
      expect(entered).toEqual(sent);
    } finally {
      sessionManager.abort();
      await server.close();
    }
  });
});
