/** Appends `more` to `bytes` (a fresh array; either may be empty). */
export function concatBytes(bytes: Uint8Array, more: Uint8Array): Uint8Array {
  if (bytes.length === 0) return more;
  if (more.length === 0) return bytes;
  const out = new Uint8Array(bytes.length + more.length);
  out.set(bytes);
  out.set(more, bytes.length);
  return out;
}

/**
 * Drops the first `count` bytes of a body pushed piece by piece: the function returned
 * gives what is left of each piece once they are gone.
 */
export function skipFirst(count: number): (bytes: Uint8Array) => Uint8Array {
  let skip = count;
  return (bytes) => {
    if (skip <= 0) return bytes;
    const dropped = Math.min(skip, bytes.length);
    skip -= dropped;
    return bytes.subarray(dropped);
  };
}
