/**
 * timing.ts: waiting with a deadline in tests, so a hang is a failure with a name, not a
 * mocha timeout with none.
 */

/** Resolves or rejects as `p` does, or rejects naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
