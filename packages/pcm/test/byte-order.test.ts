import { describe, expect, it } from "vitest";
import {
  int16FromBigEndian,
  int16FromLittleEndian,
  int16ToBigEndianBytes,
  int16ToLittleEndianBytes,
} from "../src/byte-order.js";

describe("byte-order conversion", () => {
  // Bytes 0x01 0x80 | 0xff 0x7f | 0x00 0x00 | 0x34 0x12 starting at an odd offset.
  const backing = new Uint8Array([0xaa, 0x01, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x34, 0x12]);
  const unaligned = backing.subarray(1);

  it("reads little-endian bytes at an odd byteOffset", () => {
    expect(unaligned.byteOffset).toBe(1);
    expect(Array.from(int16FromLittleEndian(unaligned))).toEqual([-32767, 32767, 0, 0x1234]);
  });

  it("reads big-endian bytes at an odd byteOffset", () => {
    expect(Array.from(int16FromBigEndian(unaligned))).toEqual([0x0180, -129, 0, 0x3412]);
  });

  it("copies rather than aliasing the source", () => {
    const bytes = new Uint8Array([1, 0]);
    const samples = int16FromLittleEndian(bytes);
    bytes[0] = 9;
    expect(samples[0]).toBe(1);
  });

  it("throws RangeError on an odd byte length", () => {
    expect(() => int16FromLittleEndian(new Uint8Array(3))).toThrow(RangeError);
    expect(() => int16FromBigEndian(new Uint8Array(1))).toThrow(RangeError);
  });

  it("writes little-endian bytes from a view at an offset and round-trips", () => {
    const samples = new Int16Array([111, -32768, 32767, -2, 0x1234]).subarray(1);
    const bytes = int16ToLittleEndianBytes(samples);
    expect(Array.from(bytes)).toEqual([0x00, 0x80, 0xff, 0x7f, 0xfe, 0xff, 0x34, 0x12]);
    expect(Array.from(int16FromLittleEndian(bytes))).toEqual(Array.from(samples));
  });

  it("writes big-endian bytes from a view at an offset and round-trips", () => {
    const samples = new Int16Array([111, -32768, 32767, -2, 0x1234]).subarray(1);
    const bytes = int16ToBigEndianBytes(samples);
    expect(Array.from(bytes)).toEqual([0x80, 0x00, 0x7f, 0xff, 0xff, 0xfe, 0x12, 0x34]);
    expect(Array.from(int16FromBigEndian(bytes))).toEqual(Array.from(samples));
    expect(Array.from(samples)).toEqual([-32768, 32767, -2, 0x1234]);
  });
});
