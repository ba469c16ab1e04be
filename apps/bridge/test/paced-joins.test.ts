import { describe, expect, it } from "vitest";
import { withPacedJoins } from "../src/server.js";

const JOIN = "/mentra.livekit.bridge.LiveKitBridge/JoinRoom";

describe("withPacedJoins", () => {
  it("starts JoinRooms one per event-loop turn, in order, and never holds other RPCs", async () => {
    const started: string[] = [];
    const handler = withPacedJoins<{ url: string }, string>((req, res) => {
      started.push(`${req.url === JOIN ? "join" : "other"}:${res}`);
    });
    for (let i = 0; i < 3; i++) handler({ url: JOIN }, String(i));
    handler({ url: "/mentra.livekit.bridge.LiveKitBridge/HealthCheck" }, "h");
    expect(started).toEqual(["other:h"]);
    // One turn of the loop (I/O polled in between) per JoinRoom.
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(["other:h", "join:0"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual(["other:h", "join:0", "join:1"]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started).toEqual(["other:h", "join:0", "join:1", "join:2"]);
    handler({ url: JOIN }, "3");
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(started.at(-1)).toBe("join:3");
  });
});
