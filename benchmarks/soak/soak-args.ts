/**
 * soak-args.ts: the options of `npm run soak` (node:util parseArgs, strict, as the bench's
 * are). Every mistake is a UsageError naming the option, before anything runs.
 */
import { parseArgs } from 'node:util';
import { wholeNumber } from '../../src/cli/command-args.js';
import { UsageError } from '../../src/cli/usage-error.js';

export interface SoakOptions {
  help: boolean;
  seconds: number;
  /** The transports asked for by name, or null for every one this machine can run. */
  transports: string[] | null;
  /** Mean time between two SIGKILLs of a random child, ms; 0 for none. */
  killEveryMs: number;
  /** Seconds between two resource lines. */
  sampleEvery: number;
}

export const SOAK_USAGE = `usage: npm run soak -- [options]

Mixed tells, asks and streams between this process and one supervised child per transport,
all transports at once, with random SIGKILLs of the children. Prints per transport what was
sent, received, in doubt and lost, the resources of every process over time, and exits 1 if
a promise was broken (a loss on a reliable transport, a duplicate, disorder, an ask never
settled, growth after warm-up, an OS object left behind).

  --seconds N          how long the traffic runs (default 60)
  --transports a,b     the transports to run (default every one this machine can; nats only
                       with SWITCHYARD_NATS_URL or a server on 127.0.0.1:4222)
  --kill-every-ms N    mean time between two SIGKILLs of a random child (default 4000; 0: none)
  --sample-every N     seconds between two resource lines (default 5)
  -h, --help           this text
`;


/** An option's whole number from `min` to `max`, or `fallback` when it is not given. */
function count(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  return text === undefined ? fallback : wholeNumber(name, text, min, max);
}

/** Parses the soak's argv; `known` is every registered scheme the soak could run. */
export function parseSoakArgs(argv: readonly string[], known: readonly string[]): SoakOptions {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        seconds: { type: 'string' },
        transports: { type: 'string' },
        'kill-every-ms': { type: 'string' },
        'sample-every': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (positionals.length) throw new UsageError(`the soak takes no arguments besides options, got "${positionals.join(' ')}"`);
  let transports: string[] | null = null;
  if (values.transports !== undefined) {
    transports = [...new Set(values.transports.split(',').map((s) => s.trim()).filter(Boolean))];
    if (!transports.length) throw new UsageError('--transports needs at least one transport');
    const unknown = transports.filter((t) => !known.includes(t));
    if (unknown.length) throw new UsageError(`unknown transport(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  }
  return {
    help: values.help ?? false,
    seconds: count('seconds', values.seconds, 60, 4, 31_536_000), // a year
    transports,
    killEveryMs: count('kill-every-ms', values['kill-every-ms'], 4000, 0, 86_400_000),
    sampleEvery: count('sample-every', values['sample-every'], 5, 1, 86_400),
  };
}
