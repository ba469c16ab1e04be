import { describe, expect, it } from "vitest";
import { BridgeError } from "../src/errors.js";
import type { Call } from "../src/session/call.js";
import { createSessionState, type Handover } from "../src/session/session-state.js";
import { StreamSplicer } from "../src/stream-splicer.js";

/** A call as the state machine sees it: an identity with a controller (never run). */
function idleCall(): Call {
  return {
    controller: new AbortController(),
    stopSending: new AbortController(),
    sending: Promise.resolve(),
    startSending: () => {},
    tracks: new Set(),
    onMessage: () => {},
    done: Promise.resolve(undefined),
  };
}

function pendingHandover(): Handover {
  return {
    splicer: new StreamSplicer(),
    switched: false,
    result: Promise.resolve(undefined),
    feedOld: () => {},
  };
}

describe("the session's state machine", () => {
  it("streams on the call it opened and recovers once that call ends", () => {
    const machine = createSessionState();
    expect(machine.state.name).toBe("recovering");
    const call = idleCall();
    machine.stream(call);
    expect(machine.state.name).toBe("streaming");
    expect(machine.call).toBe(call);
    machine.callEnded(idleCall()); // another call (a handover's candidate) does not count
    expect(machine.call).toBe(call);
    machine.callEnded(call);
    expect(machine.state.name).toBe("recovering");
    expect(machine.call).toBeUndefined();
  });

  it("hands over only while streaming, keeps the old call until it ends, adopts the new one", () => {
    const machine = createSessionState();
    const first = pendingHandover();
    expect(machine.handOver(first)).toBe(false); // recovering: nothing to move from
    const old = idleCall();
    machine.stream(old);
    expect(machine.handOver(first)).toBe(true);
    expect(machine.handOver(pendingHandover())).toBe(false); // one move at a time
    expect(machine.handover).toBe(first);
    machine.callEnded(old);
    expect(machine.state.name).toBe("handing-over");
    expect(machine.call).toBeUndefined();
    expect(machine.handover).toBe(first);
    const next = idleCall();
    machine.stream(next);
    expect(machine.state.name).toBe("streaming");
    expect(machine.call).toBe(next);
    expect(machine.handover).toBeUndefined();
  });

  it("goes back to the old call when a handover fails, or to recovering if it ended", () => {
    const machine = createSessionState();
    const old = idleCall();
    machine.stream(old);
    const failed = pendingHandover();
    machine.handOver(failed);
    machine.handoverFailed(pendingHandover()); // not the one in progress
    expect(machine.handover).toBe(failed);
    machine.handoverFailed(failed);
    expect(machine.state.name).toBe("streaming");
    expect(machine.call).toBe(old);
    const again = pendingHandover();
    machine.handOver(again);
    machine.callEnded(old);
    machine.handoverFailed(again);
    expect(machine.state.name).toBe("recovering");
  });

  it("closes once: aborts its signal with the reason and holds the call until it ended", () => {
    const machine = createSessionState();
    const call = idleCall();
    machine.stream(call);
    const reason = new BridgeError("closed", "user u1 left");
    expect(machine.close(reason)).toBe(true);
    expect(machine.close(new BridgeError("replaced", "later"))).toBe(false);
    expect(machine.signal.aborted).toBe(true);
    expect(machine.signal.reason).toBe(reason);
    expect(machine.state).toMatchObject({ name: "closed", reason });
    expect(machine.call).toBe(call);
    expect(machine.handOver(pendingHandover())).toBe(false);
    machine.callEnded(call);
    expect(machine.state.name).toBe("closed");
    expect(machine.call).toBeUndefined();
  });
});
