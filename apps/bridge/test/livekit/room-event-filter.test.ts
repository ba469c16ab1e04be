import { Room } from "@livekit/rtc-node";
import { describe, expect, it } from "vitest";

// Our patch of rtc-node (patches/@livekit__rtc-node@1.1.0.patch): every FFI event of the
// process reaches every Room's listener. The events a Room does not handle must be dropped
// at once, with no promise: 20 rooms and 4,000 events a second made 80,000 promises a
// second when the listener was an async function that returned early.

type Listener = (event: unknown) => unknown;
const listenerOf = (room: Room) => (room as unknown as { onFfiEvent: Listener }).onFfiEvent;

describe("a Room's FFI event listener (patched rtc-node)", () => {
  it("drops events no Room handles without a promise", () => {
    const onEvent = listenerOf(new Room());
    for (const kind of ["audioStreamEvent", "captureAudioFrame", "logs", "getStats"]) {
      expect(onEvent({ message: { case: kind, value: {} } })).toBeUndefined();
    }
  });

  it("drops another room's events without a promise, and takes its own", async () => {
    const room = new Room();
    const fields = room as unknown as {
      ffiHandle: { handle: bigint };
      info: object;
      preConnectEvents: unknown[];
    };
    fields.ffiHandle = { handle: 7n };
    fields.info = {};
    const onEvent = listenerOf(room);
    const other = { message: { case: "roomEvent", value: { roomHandle: 8n, message: {} } } };
    expect(onEvent(other)).toBeUndefined();
    // Its own event goes on to the lock; before the connect completes, it is kept for later.
    const own = { message: { case: "roomEvent", value: { roomHandle: 7n, message: {} } } };
    const handled = onEvent(own);
    expect(handled).toBeInstanceOf(Promise);
    await handled;
    expect(fields.preConnectEvents).toEqual([own]);
    fields.preConnectEvents = [];
  });
});
