import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createDevicePacketParser,
  type DevicePacketFormat,
  type ParsedPacket,
} from "../../src/audio/device-packets.js";

/** A phone packet: the sequence byte, then `samples` samples whose bytes are all `fill`. */
function phone(sequence: number, samples = 320, fill = 0x11): Uint8Array {
  const packet = new Uint8Array(1 + 2 * samples).fill(fill);
  packet[0] = sequence % 256;
  return packet;
}

const raw = (samples = 320, fill = 0x22) => new Uint8Array(2 * samples).fill(fill);

describe("device packet format", () => {
  it("decides the phone's format after 4 stepping odd packets, never from one", () => {
    const decisions: DevicePacketFormat[] = [];
    const parser = createDevicePacketParser({ onDecision: (f) => decisions.push(f) });
    for (let i = 0; i < 3; i++) expect(parser.push(phone(i + 1), i * 20)).toEqual([]);
    expect(parser.format).toBeUndefined();
    const released = parser.push(phone(4), 60);
    expect(parser.format).toBe("phone");
    expect(decisions).toEqual(["phone"]);
    expect(released.map((p) => (p.kind === "packet" ? p.sequence : -1))).toEqual([1, 2, 3, 4]);
    for (const packet of released) {
      expect(packet.kind === "packet" && packet.pcm.byteLength).toBe(640);
      expect(packet.kind === "packet" && packet.pcm.every((b) => b === 0x11)).toBe(true);
    }
  });

  it("decides raw after 4 even packets and passes them whole", () => {
    const parser = createDevicePacketParser();
    for (let i = 0; i < 3; i++) parser.push(raw(), i * 20);
    const released = parser.push(raw(), 60);
    expect(parser.format).toBe("raw");
    expect(released.map((p) => (p.kind === "packet" ? p.pcm.byteLength : -1))).toEqual([
      640, 640, 640, 640,
    ]);
  });

  it("counts an odd packet in a raw session and an even one in a phone session as invalid", () => {
    const rawSession = createDevicePacketParser();
    for (let i = 0; i < 4; i++) rawSession.push(raw(), i);
    expect(rawSession.push(phone(9), 5)).toEqual([
      { kind: "invalid", byteLength: 641, arrivedAt: 5 },
    ]);
    const phoneSession = createDevicePacketParser();
    for (let i = 0; i < 4; i++) phoneSession.push(phone(i), i);
    expect(phoneSession.push(raw(), 5)).toEqual([
      { kind: "invalid", byteLength: 640, arrivedAt: 5 },
    ]);
    expect(phoneSession.push(new Uint8Array(1), 6)[0]?.kind).toBe("invalid");
  });

  it("falls back to the majority after 500 ms without a consistent run", () => {
    const parser = createDevicePacketParser();
    // Odd packets whose "sequence" bytes jump: not the phone's stepping run.
    parser.push(phone(10), 0);
    parser.push(phone(90), 20);
    parser.push(raw(), 40);
    expect(parser.deadline()).toBe(500);
    expect(parser.poll(499)).toEqual([]);
    const released = parser.poll(500);
    expect(parser.format).toBe("phone");
    expect(released.map((p) => p.kind)).toEqual(["packet", "packet", "invalid"]);
    expect(parser.deadline()).toBeUndefined();
  });

  it("holds at most 25 packets before falling back", () => {
    const parser = createDevicePacketParser();
    for (let i = 0; i < 24; i++) expect(parser.push(phone(i * 50), i)).toEqual([]);
    expect(parser.push(phone(7), 24)).toHaveLength(25);
    expect(parser.format).toBe("phone");
  });

  it("property: whatever arrives, every packet comes out once, in order, in the decided format", () => {
    const packet = fc.oneof(
      fc.integer({ min: 0, max: 255 }).map((s) => phone(s, 4)),
      fc.constant(raw(4)),
      fc.integer({ min: 0, max: 3 }).map((n) => new Uint8Array(n)),
    );
    fc.assert(
      fc.property(fc.array(packet, { maxLength: 60 }), (packets) => {
        const parser = createDevicePacketParser();
        const out: ParsedPacket[] = [];
        for (const [i, p] of packets.entries()) out.push(...parser.push(p, i * 20));
        out.push(...parser.poll(10_000));
        expect(out.map((p) => p.arrivedAt)).toEqual(packets.map((_, i) => i * 20));
        const format = parser.format;
        if (packets.length > 0) expect(format).toBeDefined();
        for (const [i, p] of out.entries()) {
          const bytes = packets[i] ?? new Uint8Array(0);
          if (p.kind === "packet") {
            expect(p.pcm.byteLength % 2).toBe(0);
            expect(p.pcm.byteLength).toBe(format === "phone" ? bytes.length - 1 : bytes.length);
          }
        }
      }),
    );
  });
});
