import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { e2eGate, namespacesOwnedBy, pidsInNamespace } from "@mentra/livekit-rig";
import { joinParticipant, waitFor } from "@mentra/test-kit";
import { afterEach, describe, expect, it } from "vitest";

// The main job as `npm start` runs it: the built bridge process, its embedded LiveKit
// in a network namespace of its own, a real stop signal.

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const gate = await e2eGate();

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      child.stderr?.off("data", onData);
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; got:\n${seen}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split("\n").find((candidate) => pattern.test(candidate));
      if (line !== undefined) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve(line);
      }
    };
    child.stderr?.on("data", onData);
  });
}

describe.skipIf(gate === "skip")("the bridge process with its embedded LiveKit", () => {
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    child = undefined;
  });

  it("serves HealthCheck, runs LiveKit in its own namespace, and leaves nothing on SIGINT", async () => {
    const env = { ...process.env, BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: "0", LIVEKIT_URL: "" };
    const proc = spawn(process.execPath, [MAIN], { env, stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let printed = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
    });
    const pid = proc.pid ?? 0;
    const line = await waitForLine(proc, /bridge listening/, 20_000);
    const listening = JSON.parse(line) as { port: number; embeddedLiveKit: boolean };
    const port = listening.port;
    expect(port).toBeGreaterThan(0);
    expect(listening.embeddedLiveKit).toBe(true);

    const namespaces = namespacesOwnedBy(pid);
    expect(namespaces).toHaveLength(1);
    const namespace = namespaces[0] ?? "";
    expect(pidsInNamespace(namespace).length).toBeGreaterThan(0);

    const response = await fetch(
      `http://127.0.0.1:${port}/mentra.livekit.bridge.LiveKitBridge/HealthCheck`,
      { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "SERVING" });

    // With the embedded LiveKit, a user and a room are all JoinRoom needs.
    const call = (method: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}/mentra.livekit.bridge.LiveKitBridge/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    expect(await call("JoinRoom", { userId: "u-main", roomName: "main-room" })).toMatchObject({
      success: true,
      metadata: { identity: "cloud-agent:u-main", room: "main-room" },
    });
    expect(await call("GetStatus", { userId: "u-main" })).toMatchObject({
      connected: true,
      participantCount: 1,
    });
    expect(await call("HealthCheck", {})).toMatchObject({ activeSessions: 1 });

    // What it printed lets a developer's own participant (a phone, here rtc-node) into the
    // embedded LiveKit, and into the bridge's room.
    const value = (name: string) => printed.match(new RegExp(`^  ${name}=(\\S+)$`, "m"))?.[1];
    const creds = {
      url: value("LIVEKIT_URL") ?? "",
      apiKey: value("LIVEKIT_API_KEY") ?? "",
      apiSecret: value("LIVEKIT_API_SECRET") ?? "",
    };
    expect(creds.url).toMatch(/^ws:\/\//);
    expect(printed).toContain(`LIVEKIT_GRPC_BRIDGE_URL=127.0.0.1:${port}`);
    const phone = await joinParticipant(creds, "main-room", "phone");
    try {
      await waitFor(
        async () =>
          ((await call("GetStatus", { userId: "u-main" })) as { participantCount?: number })
            .participantCount === 2,
        { timeoutMs: 5_000, description: "the bridge to see the phone in main-room" },
      );
    } finally {
      await phone.close();
    }

    const exited = once(proc, "exit");
    proc.kill("SIGINT");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(namespacesOwnedBy(pid)).toEqual([]);
    expect(pidsInNamespace(namespace)).toEqual([]);
  });
});
