/**
 * transports.ts: `switchyard transports`: the registered transports and what they promise.
 */
import { listTransports } from '../index.js';
import { UsageError } from './usage-error.js';

export async function transports(argv: readonly string[]): Promise<number> {
  if (argv.length) throw new UsageError(`takes no arguments, got "${argv.join(' ')}"`);
  for (const t of listTransports()) {
    const c = t.capabilities;
    process.stdout.write(
      `${`${t.scheme}:`.padEnd(12)} ${c.reliable ? 'reliable' : 'best-effort'}, ${c.ordered ? 'ordered' : 'unordered'}, ` +
        `${c.crossHost ? 'cross-host' : 'local'}, ${t.pair ? 'parent/child' : 'addressed'}\n`,
    );
  }
  return 0;
}
