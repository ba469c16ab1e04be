/**
 * A small iterative radix-2 FFT, enough for cross-correlating a few seconds of
 * audio in tens of milliseconds without a dependency.
 */

const twiddleCache = new Map<number, { cos: Float64Array; sin: Float64Array }>();

function twiddles(n: number): { cos: Float64Array; sin: Float64Array } {
  let table = twiddleCache.get(n);
  if (!table) {
    const cos = new Float64Array(n / 2);
    const sin = new Float64Array(n / 2);
    for (let k = 0; k < n / 2; k++) {
      cos[k] = Math.cos((2 * Math.PI * k) / n);
      sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    table = { cos, sin };
    // A handful of sizes recur in a test run; keep the cache from growing without bound.
    if (twiddleCache.size >= 8) twiddleCache.clear();
    twiddleCache.set(n, table);
  }
  return table;
}

/** The smallest power of two that is at least `n`. */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Transforms (re, im) in place: the forward DFT, or with `inverse` the inverse
 * DFT without the 1/n scaling. The length must be a power of two.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (im.length !== n || n === 0 || (n & (n - 1)) !== 0) {
    throw new RangeError(
      `fft needs two arrays of one power-of-two length (got ${n}, ${im.length})`,
    );
  }
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i] as number;
      re[i] = re[j] as number;
      re[j] = tr;
      const ti = im[i] as number;
      im[i] = im[j] as number;
      im[j] = ti;
    }
  }
  const { cos, sin } = twiddles(n);
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size *= 2) {
    const half = size / 2;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step] as number;
        const wi = sign * (sin[k * step] as number);
        const a = start + k;
        const b = a + half;
        const br = re[b] as number;
        const bi = im[b] as number;
        const tr = br * wr - bi * wi;
        const ti = br * wi + bi * wr;
        const ar = re[a] as number;
        const ai = im[a] as number;
        re[b] = ar - tr;
        im[b] = ai - ti;
        re[a] = ar + tr;
        im[a] = ai + ti;
      }
    }
  }
}

/**
 * Cross-correlation of two real signals: `out[lag mod n]` = Σ a[i + lag]·b[i],
 * for every lag from -(b.length - 1) to a.length - 1, where n is the returned
 * length (a power of two, so negative lags wrap to the end). Both signals go
 * through one complex FFT, as its real and imaginary parts.
 */
export function crossCorrelate(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const n = nextPowerOfTwo(a.length + b.length - 1);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (let i = 0; i < a.length; i++) re[i] = a[i] as number;
  for (let i = 0; i < b.length; i++) im[i] = b[i] as number;
  fft(re, im);
  // With z = a + i·b and w = conj Z[n-k]: A[k] = (Z[k] + w) / 2, B[k] = (Z[k] - w) / 2i.
  const pr = new Float64Array(n);
  const pi = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const m = (n - k) % n;
    const zr = re[k] as number;
    const zi = im[k] as number;
    const wr = re[m] as number;
    const wi = -(im[m] as number);
    const ar = (zr + wr) / 2;
    const ai = (zi + wi) / 2;
    const br = (zi - wi) / 2;
    const bi = -(zr - wr) / 2;
    // A[k]·conj B[k] is the spectrum of the cross-correlation.
    pr[k] = ar * br + ai * bi;
    pi[k] = ai * br - ar * bi;
  }
  fft(pr, pi, true);
  for (let k = 0; k < n; k++) pr[k] = (pr[k] as number) / n;
  return pr;
}
