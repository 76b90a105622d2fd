/**
 * levels.ts: what `--level` measures. `bus`: tell/ask through an ActorSystem (bus-subject.ts);
 * `link`: raw frames over a Link (link-subject.ts); `all`: both, each transport's bus row
 * beside its link row, so the bus's own cost reads straight off the table. The baselines
 * are the same at every level, so they run once per run whatever the level. `spawn` is not a
 * matrix: it times system.spawn() and restarts (cli/bench-spawn.ts), so it has no subjects.
 */
import { listTransports, type Transport } from '../src/index.js';
import type { Baseline } from './baselines/registry.js';
import { busSubject, type BusVariant } from './bus-subject.js';
import { linkSubject, type LinkVariant } from './link-subject.js';
import type { BenchLevel } from './result.js';
import type { Subject } from './subject.js';

/** The levels that run the transport x size matrix. */
export type MatrixLevel = BenchLevel | 'all';
/** What --level takes. */
export type LevelChoice = MatrixLevel | 'spawn';
export const LEVEL_CHOICES: readonly LevelChoice[] = ['bus', 'link', 'all', 'spawn'];
export const DEFAULT_LEVEL: LevelChoice = 'bus';

export interface LevelSelection {
  /** Transport schemes, already validated against the registry. */
  transports: string[];
  baselines: Baseline[];
}

export function isLevelChoice(name: string): name is LevelChoice {
  return (LEVEL_CHOICES as readonly string[]).includes(name);
}

/** The level baselines are tagged with in the results: the run's first level. */
export function primaryLevel(choice: MatrixLevel): BenchLevel {
  return choice === 'link' ? 'link' : 'bus';
}

/**
 * Extra link-level rows for transports with a mode worth seeing beside the default one:
 * shm's spin mode (the receiver polls instead of sleeping; one core at 100% per side).
 */
const LINK_VARIANTS: Record<string, LinkVariant[]> = {
  shm: [{ suffix: ' (spin 50us)', options: { spinUs: 50 }, note: 'spin mode: a core at 100% per side' }],
};

/**
 * Bus rows per transport where one is not enough: nats between two processes of one host
 * moves to a local socket (the same-host upgrade); `?upgrade=0` keeps it on the broker, so
 * the two read side by side.
 */
const BUS_ROWS: Record<string, BusVariant[]> = {
  nats: [
    { suffix: '', query: '', note: 'same host: upgraded to a local socket' },
    { suffix: ' (upgrade=0)', query: '?upgrade=0', note: 'through the broker (upgrade off); best-effort: loss counted' },
  ],
};

export function subjectsFor(choice: MatrixLevel, { transports, baselines }: LevelSelection): Subject[] {
  const chosen = listTransports().filter((t) => transports.includes(t.scheme));
  const link = (t: Transport): Subject[] => [linkSubject(t), ...(LINK_VARIANTS[t.scheme] ?? []).map((v) => linkSubject(t, v))];
  const bus = (t: Transport): Subject[] => (BUS_ROWS[t.scheme] ?? [undefined]).map((v) => busSubject(t, v));
  const perTransport = chosen.flatMap((t) => {
    if (choice === 'bus') return bus(t);
    if (choice === 'link') return link(t);
    return [...bus(t), ...link(t)];
  });
  return [...perTransport, ...baselines.map((b) => b.subject)];
}
