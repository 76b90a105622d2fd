/**
 * bench.ts: `switchyard bench`, loaded when it runs. The harness lives in benchmarks/, above
 * the library, and needs packages a library user does not install (table, progress bar,
 * charts), so nothing in src/ imports it statically (test/layering.test.ts holds that): this
 * dynamic import is the one door from the CLI into it.
 */
export async function bench(argv: readonly string[]): Promise<number> {
  const { benchCommand } = await import('../../benchmarks/cli/bench.js');
  return benchCommand(argv);
}
