import { describe, expect, it } from "vitest";
import {
  downmixToMono,
  PcmFormatError,
  validateChunkFormat,
  validateTrackId,
} from "../../src/audio/pcm.js";

function formatErrorOf(run: () => unknown): PcmFormatError {
  try {
    run();
  } catch (error) {
    if (error instanceof PcmFormatError) return error;
    throw error;
  }
  throw new Error("expected a PcmFormatError");
}

const chunk = { sampleRate: 16_000, channels: 1, byteLength: 320, maxBytes: 64_000 };

describe("validateChunkFormat", () => {
  it("reads 0 as 16000 Hz mono", () => {
    expect(validateChunkFormat({ ...chunk, sampleRate: 0, channels: 0 })).toEqual({
      sampleRate: 16_000,
      channels: 1,
    });
  });

  it("accepts every rate from 8000 to 48000 Hz and stereo", () => {
    for (const sampleRate of [8_000, 22_050, 44_100, 48_000]) {
      expect(validateChunkFormat({ ...chunk, sampleRate, channels: 2 })).toEqual({
        sampleRate,
        channels: 2,
      });
    }
  });

  it("rejects rates outside 8000..48000 naming sample_rate", () => {
    for (const sampleRate of [7_999, 48_001, 96_000, 16_000.5, -16_000]) {
      const error = formatErrorOf(() => validateChunkFormat({ ...chunk, sampleRate }));
      expect(error.field).toBe("sample_rate");
      expect(error.message).toContain(`sample_rate ${sampleRate}`);
    }
  });

  it("rejects more than two channels naming channels", () => {
    const error = formatErrorOf(() => validateChunkFormat({ ...chunk, channels: 3 }));
    expect([error.field, error.name]).toEqual(["channels", "PcmFormatError"]);
    expect(error).toBeInstanceOf(Error);
  });

  it("rejects an odd-length payload naming pcm_data", () => {
    const error = formatErrorOf(() => validateChunkFormat({ ...chunk, byteLength: 321 }));
    expect(error.field).toBe("pcm_data");
    expect(error.message).toMatch(/odd length of 321 bytes/);
  });

  it("requires whole stereo sample frames", () => {
    expect(validateChunkFormat({ ...chunk, channels: 2, byteLength: 8 }).channels).toBe(2);
    const error = formatErrorOf(() =>
      validateChunkFormat({ ...chunk, channels: 2, byteLength: 6 }),
    );
    expect(error.field).toBe("pcm_data");
    expect(error.message).toContain("multiple of 4");
  });

  it("accepts exactly maxBytes and rejects one sample more", () => {
    expect(validateChunkFormat({ ...chunk, byteLength: 64_000 }).sampleRate).toBe(16_000);
    const error = formatErrorOf(() => validateChunkFormat({ ...chunk, byteLength: 64_002 }));
    expect(error.field).toBe("pcm_data");
    expect(error.message).toContain("over the limit of 64000");
  });

  it("accepts an empty payload", () => {
    expect(validateChunkFormat({ ...chunk, byteLength: 0 }).channels).toBe(1);
  });
});

describe("validateTrackId", () => {
  it("returns non-negative integers", () => {
    expect([validateTrackId(0), validateTrackId(7), validateTrackId(15)]).toEqual([0, 7, 15]);
  });

  it("rejects negative, fractional and too high ids naming track_id", () => {
    for (const id of [-1, 1.5, Number.NaN, 16, 2 ** 31 - 1]) {
      expect(formatErrorOf(() => validateTrackId(id)).field).toBe("track_id");
    }
  });
});

describe("downmixToMono", () => {
  it("averages stereo pairs, rounding, without overflow at full scale", () => {
    const stereo = new Int16Array([100, 200, -32768, -32768, 32767, 32767, 3, 0, -3, 0]);
    expect(Array.from(downmixToMono(stereo, 2))).toEqual([150, -32768, 32767, 2, -1]);
  });

  it("returns mono input as a copy", () => {
    const mono = new Int16Array([1, 2, 3]);
    const result = downmixToMono(mono, 1);
    expect(result).not.toBe(mono);
    expect(Array.from(result)).toEqual([1, 2, 3]);
  });

  it("rejects partial frames and bad channel counts", () => {
    expect(() => downmixToMono(new Int16Array(3), 2)).toThrow(RangeError);
    expect(() => downmixToMono(new Int16Array(2), 0)).toThrow(RangeError);
  });
});
