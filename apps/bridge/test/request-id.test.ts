import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { BridgeApp } from "../src/app.js";
import { startApp } from "./support/app.js";

const JOIN = "/mentra.livekit.bridge.LiveKitBridge/JoinRoom";
const HEALTH = "/mentra.livekit.bridge.LiveKitBridge/HealthCheck";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("request ids", () => {
  let app: BridgeApp | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function call(url: string, path: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ userId: "u1", roomName: "r1" }),
    });
    return { status: response.status, requestId: response.headers.get("x-request-id") };
  }

  it("tags the lines an RPC logs with its request id and echoes the id", async () => {
    const logLines: string[] = [];
    const started = await startApp({ env: { BRIDGE_API_KEY: "k".repeat(24) }, logLines });
    app = started.app;

    const given = await call(started.url, JOIN, { "x-request-id": "req-42" });
    expect(given.status).toBe(401);
    const refusal = logLines.map((l) => JSON.parse(l)).find((l) => l.msg.startsWith("refused"));
    expect(refusal).toMatchObject({ requestId: "req-42", rpc: "JoinRoom" });

    const ok = await call(started.url, HEALTH, { "x-request-id": "req-43" });
    expect(ok).toEqual({ status: 200, requestId: "req-43" });
    const fresh = await call(started.url, HEALTH);
    expect(fresh.requestId).toMatch(UUID);
    // An id that is not short and printable is replaced, not echoed.
    const bad = await call(started.url, HEALTH, { "x-request-id": "x".repeat(200) });
    expect(bad.requestId).toMatch(UUID);
    // Lines outside any RPC carry none.
    const outside = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg.includes("listening"));
    for (const line of outside) expect(line.requestId).toBeUndefined();
  });

  it("are passed in the call's context, not through AsyncLocalStorage: the bundled bridge turns on no promise hook", () => {
    // An AsyncLocalStorage (or any async hook) makes Node 20 run a hook for every promise
    // of the process, rtc-node's per-frame ones included: a fifth of the JS thread at 20 users.
    const dist = new URL("../dist/", import.meta.url);
    const files = [
      new URL("main.js", dist),
      ...readdirSync(new URL("chunks/", dist))
        .filter((name) => name.endsWith(".js"))
        .map((name) => new URL(`chunks/${name}`, dist)),
    ];
    expect(files.length).toBeGreaterThan(1);
    const hooked = files.filter((file) =>
      /new AsyncLocalStorage\b|\bcreateHook\(|executionAsyncResource\(/.test(
        readFileSync(file, "utf8"),
      ),
    );
    expect(hooked.map((file) => file.pathname)).toEqual([]);
  });
});
