/**
 * runs.ts: how hard the hostile property suites try. Issue 14 asks for at least 10,000 cases
 * per decoder in the normal test run; each suite states its own count through these, so the
 * figure is in one place and a reader sees what "hostile:" costs. fast-check prints the seed
 * and the shrunk counterexample of a failure, so any failure replays with `{ seed, path }`.
 */
import fc from 'fast-check';

/** Cases per decoder property, in the normal run. */
export const RUNS = 10_000;

/** Parameters for fc.assert: RUNS cases, no time budget (a slow machine runs them all). */
export function runs(numRuns = RUNS): fc.Parameters<unknown> {
  return { numRuns };
}

/** Bytes of any value, lengths skewed short (a decoder's interesting cases are near its headers). */
export function bytes(maxLength = 64): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ maxLength });
}

/** A u32 drawn mostly near the edges a length field can be wrong at: 0, small, 2^31, 2^32. */
export function edgyU32(): fc.Arbitrary<number> {
  return fc.oneof(
    fc.integer({ min: 0, max: 64 }),
    fc.integer({ min: 2 ** 31 - 8, max: 2 ** 31 + 8 }),
    fc.integer({ min: 2 ** 32 - 64, max: 2 ** 32 - 1 }),
    fc.nat({ max: 2 ** 32 - 1 }),
  );
}
