/**
 * random.ts: seeded randomness for tests, so any failure can be replayed from its seed.
 */

/** mulberry32: a small seeded PRNG. Returns numbers in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi]. */
export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** A buffer of `n` pseudo-random bytes, in its own ArrayBuffer (never Node's shared pool). */
export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.from(new ArrayBuffer(n));
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}
