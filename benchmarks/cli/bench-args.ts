/**
 * bench-args.ts: `switchyard bench` options, parsed and validated into a BenchOptions before
 * anything runs (node:util parseArgs: built in, strict). Every mistake is a UsageError naming
 * the option and what it takes.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_LEVEL, isLevelChoice, LEVEL_CHOICES, type LevelChoice } from '../levels.js';
import type { Tuning } from '../run.js';
import { MIN_SIZE } from '../wire.js';
import { wholeNumber } from '../../src/cli/command-args.js';
import { UsageError } from '../../src/cli/usage-error.js';

export const DEFAULT_SIZES = [64, 1024, 65536, 1048576];
const MAX_SIZE = 64 * 1024 * 1024;

export const BENCH_USAGE = `usage: switchyard bench [options]

Measures every transport against a real child process, beside Node's usual alternatives:
round-trip latency (p50/p99/p99.9) and one-way throughput confirmed by the receiver.

  --level bus|link|all|spawn
                          what to measure: bus (tell/ask through the bus, the default),
                          link (raw frames over a Link), all (both, side by side), or
                          spawn (system.spawn to first answer and SIGKILL to next answer
                          per transport, beside child_process.fork; 10 children per
                          timing with --quick, 30 without; takes --transports, --quick
                          and --json only)
  --transports a,b|none   transports to measure (default: every registered one)
  --baselines a,b|none    baselines to measure beside them (default: all available):
                          child-json, child-advanced, raw-unix, worker, zeromq, node-ipc
  --sizes 64,1024,...     message sizes in bytes (default 64,1024,65536,1048576)
  --quick                 fewer round trips and shorter throughput runs (under a minute)
  --json FILE             write the results as JSON (schema in the README)
  --html FILE             write a self-contained HTML report with charts
  --cpu A,B               pin the bench to CPU A and its peers to CPU B (needs taskset)
  -h, --help              this text

tuning (mostly for tests):
  --round-trips N         measured round trips per cell (quick 3000, full 10000)
  --rtt-ms N              time cap on them per cell (quick 500, full 5000)
  --warmup N              warm-up round trips per cell (quick 300, full 1000)
  --duration-ms N         throughput run per cell (quick 250, full 2000)
`;

export interface BenchOptions {
  level: LevelChoice;
  /** Selected transport schemes, or null for all registered. */
  transports: string[] | null;
  /** Selected baseline ids, or null for all available. */
  baselines: string[] | null;
  sizes: number[];
  mode: 'quick' | 'full' | 'custom';
  tuning: Tuning;
  json?: string;
  html?: string;
  cpu?: { bench: number; peers: number };
  help: boolean;
}

const QUICK: Tuning = {
  warmup: { count: 300, maxMs: 150 },
  rtt: { count: 3000, maxMs: 500 },
  throughputMs: 250,
  lossTimeoutMs: 100,
  stallMs: 10_000,
};
const FULL: Tuning = {
  warmup: { count: 1000, maxMs: 1000 },
  rtt: { count: 10_000, maxMs: 5000 },
  throughputMs: 2000,
  lossTimeoutMs: 100,
  stallMs: 10_000,
};

function list(option: string, value: string): string[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`--${option} takes a comma-separated list without empty items, got "${value}"`);
  return items;
}

export interface BenchChoices {
  /** Registered transport schemes. */
  transports: readonly string[];
  /** Every baseline id this tool knows. */
  baselines: readonly string[];
  /** CPUs on this machine (for --cpu). */
  cores: number;
}

/** Parses `switchyard bench` arguments (without the word `bench`). */
export function parseBenchArgs(argv: readonly string[], choices: BenchChoices): BenchOptions {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        level: { type: 'string' },
        transports: { type: 'string' },
        baselines: { type: 'string' },
        sizes: { type: 'string' },
        quick: { type: 'boolean' },
        json: { type: 'string' },
        html: { type: 'string' },
        cpu: { type: 'string' },
        'round-trips': { type: 'string' },
        'rtt-ms': { type: 'string' },
        warmup: { type: 'string' },
        'duration-ms': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (positionals.length) throw new UsageError(`bench takes no arguments besides options, got "${positionals.join(' ')}"`);

  const level = values.level ?? DEFAULT_LEVEL;
  if (!isLevelChoice(level)) throw new UsageError(`--level takes ${LEVEL_CHOICES.join(', ')}, got "${level}"`);
  if (level === 'spawn') {
    const matrixOnly = (['baselines', 'sizes', 'html', 'cpu', 'round-trips', 'rtt-ms', 'warmup', 'duration-ms'] as const).filter((k) => values[k] !== undefined);
    if (matrixOnly.length) throw new UsageError(`--level spawn takes --transports, --quick and --json; not ${matrixOnly.map((k) => `--${k}`).join(', ')}`);
  }

  let transports: string[] | null = null;
  if (values.transports !== undefined) {
    transports = values.transports === 'none' ? [] : list('transports', values.transports);
    const unknown = transports.filter((t) => !choices.transports.includes(t));
    if (unknown.length) {
      throw new UsageError(`unknown transport(s) ${unknown.join(', ')} (known: ${choices.transports.join(', ')}, or none)`);
    }
  }

  let baselines: string[] | null = null;
  if (values.baselines !== undefined) {
    baselines = values.baselines === 'none' ? [] : list('baselines', values.baselines);
    const unknown = baselines.filter((b) => !choices.baselines.includes(b));
    if (unknown.length) throw new UsageError(`unknown baseline(s) ${unknown.join(', ')} (known: ${choices.baselines.join(', ')}, or none)`);
  }

  const sizes = values.sizes === undefined ? DEFAULT_SIZES : list('sizes', values.sizes).map((s) => {
    const n = /^\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < MIN_SIZE || n > MAX_SIZE) {
      throw new UsageError(`--sizes takes byte counts from ${MIN_SIZE} to ${MAX_SIZE}, comma-separated; got "${s}"`);
    }
    return n;
  });

  const base = values.quick ? QUICK : FULL;
  const tuning: Tuning = { ...base, warmup: { ...base.warmup }, rtt: { ...base.rtt } };
  let mode: BenchOptions['mode'] = values.quick ? 'quick' : 'full';
  if (values['round-trips'] !== undefined) tuning.rtt.count = wholeNumber('round-trips', values['round-trips'], 1, 10_000_000);
  if (values['rtt-ms'] !== undefined) tuning.rtt.maxMs = wholeNumber('rtt-ms', values['rtt-ms'], 1, 3_600_000);
  if (values.warmup !== undefined) tuning.warmup.count = wholeNumber('warmup', values.warmup, 1, 10_000_000);
  if (values['duration-ms'] !== undefined) tuning.throughputMs = wholeNumber('duration-ms', values['duration-ms'], 1, 3_600_000);
  if (['round-trips', 'rtt-ms', 'warmup', 'duration-ms'].some((k) => values[k as keyof typeof values] !== undefined)) mode = 'custom';

  let cpu: BenchOptions['cpu'];
  if (values.cpu !== undefined) {
    const m = /^(\d+),(\d+)$/.exec(values.cpu);
    if (!m) throw new UsageError(`--cpu takes two CPU numbers A,B (bench on A, peers on B), got "${values.cpu}"`);
    const [a, b] = [Number(m[1]), Number(m[2])];
    if (a >= choices.cores || b >= choices.cores) {
      throw new UsageError(`--cpu: this machine has CPUs 0 to ${choices.cores - 1}, got "${values.cpu}"`);
    }
    cpu = { bench: a, peers: b };
  }

  for (const option of ['json', 'html'] as const) {
    if (values[option] === '') throw new UsageError(`--${option} takes a file name`);
  }

  return {
    level,
    transports,
    baselines,
    sizes,
    mode,
    tuning,
    help: values.help === true,
    ...(values.json !== undefined ? { json: values.json } : {}),
    ...(values.html !== undefined ? { html: values.html } : {}),
    ...(cpu ? { cpu } : {}),
  };
}
