import { joinParticipant, type TestParticipant, waitFor } from "@mentra/test-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eGate } from "../src/e2e-gate.js";
import { type LiveKitRig, startLiveKit } from "../src/start-livekit.js";

const gate = await e2eGate();

/** rtc-node's one FFI client: every native event passes through it. */
interface FfiEvents {
  on(event: "ffi_event", listener: (ev: { message: { case?: string } }) => void): void;
  off(event: "ffi_event", listener: (ev: { message: { case?: string } }) => void): void;
}

describe.runIf(gate === "run")(
  "native log capture, off (the bridge and test-kit turn it off)",
  () => {
    let rig: LiveKitRig;
    const participants: TestParticipant[] = [];

    beforeAll(async () => {
      rig = await startLiveKit({ isolate: "on" });
    });

    afterAll(async () => {
      for (const p of participants) await p.close();
      await rig?.close();
    });

    it("forwards no native log lines to JavaScript while rooms connect and carry data", async () => {
      // joinParticipant turns capture off before its first room.
      const sender = await joinParticipant(rig, "quiet-logs", "sender");
      participants.push(sender);
      const client = (globalThis as Record<string, unknown>)._ffiClientInstance as FfiEvents;
      const seen = new Map<string, number>();
      const count = (ev: { message: { case?: string } }) => {
        const kind = ev.message.case ?? "none";
        seen.set(kind, (seen.get(kind) ?? 0) + 1);
      };
      client.on("ffi_event", count);
      try {
        const receiver = await joinParticipant(rig, "quiet-logs", "receiver");
        participants.push(receiver);
        for (let i = 0; i < 20; i++) await sender.sendData(new Uint8Array(640).fill(i));
        let received = 0;
        await waitFor(
          async () => {
            while (
              await receiver.nextData(50).then(
                () => true,
                () => false,
              )
            )
              received++;
            return received === 20;
          },
          { timeoutMs: 5_000 },
        );
      } finally {
        client.off("ffi_event", count);
      }
      // Events still flow (connecting, publishing data) — with trace capture on, thousands
      // of "logs" events would be among them.
      expect(seen.get("connect")).toBe(1);
      expect(seen.get("publishData")).toBe(20);
      expect(seen.get("logs") ?? 0).toBe(0);
    });
  },
);
