/**
 * samples.ts: the values the bus suite sends across (every type the codec promises to
 * round-trip), and a check that compares both value and class, at any depth.
 */
import { expect } from 'chai';

export function samples(): unknown[] {
  return [
    null,
    true,
    false,
    0,
    -1,
    2 ** 31,
    Number.MAX_SAFE_INTEGER,
    -1.5,
    NaN,
    '',
    'text',
    'é😀\u0000',
    5n,
    -5n,
    2n ** 64n + 1n,
    -(2n ** 70n),
    new Date(1_700_000_000_123),
    new Map<unknown, unknown>([
      [1, 'a'],
      ['k', { n: new Map([[true, [1n]]]) }],
    ]),
    new Set<unknown>([1, 'x', new Date(0)]),
    new Uint8Array([1, 2, 3]),
    Buffer.from('a buffer'),
    new Float64Array([1.5, -2]),
    new Int32Array([-1, 7]),
    new BigInt64Array([1n, -1n]),
    new Uint16Array(0),
    [1, [2, [3, new Map([['deep', new Set([4])]])]]],
    { a: { b: { c: [new Map([['x', 1]])], d: new Date(0) } }, e: [new Map(), new Set()] },
    [undefined, { u: undefined }],
    undefined,
  ];
}

function className(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object') return typeof v;
  return Object.getPrototypeOf(v)?.constructor?.name ?? 'null-prototype';
}

/** Deep equality that also requires the same class at every level (Buffer is not Uint8Array). */
export function expectSame(got: unknown, want: unknown, where = 'value'): void {
  expect(className(got), `class of ${where}`).to.equal(className(want));
  if (want instanceof Map) {
    const g = [...(got as Map<unknown, unknown>)];
    const w = [...want];
    expect(g.length, `size of ${where}`).to.equal(w.length);
    w.forEach(([k, v], i) => {
      expectSame(g[i]![0], k, `${where} key ${i}`);
      expectSame(g[i]![1], v, `${where} value ${i}`);
    });
  } else if (want instanceof Set) {
    const g = [...(got as Set<unknown>)];
    const w = [...want];
    expect(g.length, `size of ${where}`).to.equal(w.length);
    w.forEach((v, i) => expectSame(g[i], v, `${where} item ${i}`));
  } else if (Array.isArray(want) || (typeof want === 'object' && want !== null && Object.getPrototypeOf(want) === Object.prototype)) {
    const keys = Object.keys(want);
    expect(Object.keys(got as object), `keys of ${where}`).to.deep.equal(keys);
    for (const k of keys) expectSame((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k], `${where}.${k}`);
  } else {
    expect(got, where).to.deep.equal(want);
  }
}
