/**
 * 16-bit PCM byte order: conversions that never depend on the source's alignment or the
 * host's endianness.
 */

/** Bytes per sample of 16-bit PCM. */
export const BYTES_PER_SAMPLE = 2;

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Swaps the two bytes of every sample in place. */
function swapSampleBytes(samples: Int16Array): void {
  const words = new Uint16Array(samples.buffer, samples.byteOffset, samples.length);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as number;
    words[i] = ((word & 0xff) << 8) | (word >>> 8);
  }
}

function int16FromBytes(bytes: Uint8Array, littleEndian: boolean): Int16Array<ArrayBuffer> {
  if (bytes.byteLength % BYTES_PER_SAMPLE !== 0) {
    throw new RangeError(
      `16-bit PCM needs an even byte length, got ${bytes.byteLength}; drop the odd trailing byte first`,
    );
  }
  const samples = new Int16Array(bytes.byteLength / BYTES_PER_SAMPLE);
  // A byte-wise copy into a fresh, aligned buffer works for any byteOffset of the source.
  new Uint8Array(samples.buffer).set(bytes);
  if (littleEndian !== HOST_IS_LITTLE_ENDIAN) swapSampleBytes(samples);
  return samples;
}

function int16ToBytes(samples: Int16Array, littleEndian: boolean): Uint8Array<ArrayBuffer> {
  const copy = samples.slice();
  if (littleEndian !== HOST_IS_LITTLE_ENDIAN) swapSampleBytes(copy);
  return new Uint8Array(copy.buffer);
}

/**
 * Copies little-endian 16-bit PCM bytes into a fresh Int16Array, whatever the source's
 * alignment. Throws RangeError on an odd byte length.
 */
export function int16FromLittleEndian(bytes: Uint8Array): Int16Array<ArrayBuffer> {
  return int16FromBytes(bytes, true);
}

/**
 * Copies big-endian 16-bit PCM bytes into a fresh Int16Array of native samples.
 * Throws RangeError on an odd byte length.
 */
export function int16FromBigEndian(bytes: Uint8Array): Int16Array<ArrayBuffer> {
  return int16FromBytes(bytes, false);
}

/** Copies samples into fresh little-endian bytes, the wire's byte order. */
export function int16ToLittleEndianBytes(samples: Int16Array): Uint8Array<ArrayBuffer> {
  return int16ToBytes(samples, true);
}

/** Copies samples into fresh big-endian bytes, as some devices send them. */
export function int16ToBigEndianBytes(samples: Int16Array): Uint8Array<ArrayBuffer> {
  return int16ToBytes(samples, false);
}
