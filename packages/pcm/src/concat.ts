/**
 * Joins sample arrays into one, in order. A single part comes back as it is, not copied:
 * callers read the result, and one 10 ms frame needs no allocation.
 */
export function concatInt16(parts: readonly Int16Array[]): Int16Array {
  return concatInto(parts, (length) => new Int16Array(length));
}

/** Joins byte arrays into one, in order; a single part comes back as it is, not copied. */
export function concatUint8(parts: readonly Uint8Array[]): Uint8Array {
  return concatInto(parts, (length) => new Uint8Array(length));
}

function concatInto<A extends Int16Array | Uint8Array>(
  parts: readonly A[],
  allocate: (length: number) => A,
): A {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = allocate(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
