/**
 * Joins sample arrays into one, in order. A single part comes back as it is, not copied:
 * callers read the result, and one 10 ms frame needs no allocation.
 */
export function concatInt16(parts: readonly Int16Array[]): Int16Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const out = new Int16Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
