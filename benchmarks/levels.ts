/**
 * levels.ts: what `--level` measures. `bus`: tell/ask through an ActorSystem (bus-subject.ts);
 * `link`: raw frames over a Link (link-subject.ts); `all`: both, each transport's bus row
 * beside its link row, so the bus's own cost reads straight off the table. The baselines
 * are the same at every level, so they run once per run whatever the level. `spawn` is not a
 * matrix: it times system.spawn() and restarts (cli/bench-spawn.ts), so it has no subjects.
 */
import { listTransports, type Transport } from '../src/index.js';
import type { Baseline } from './baselines/registry.js';
import { busSubject } from './bus-subject.js';
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

export function subjectsFor(choice: MatrixLevel, { transports, baselines }: LevelSelection): Subject[] {
  const chosen = listTransports().filter((t) => transports.includes(t.scheme));
  const link = (t: Transport): Subject[] => [linkSubject(t), ...(LINK_VARIANTS[t.scheme] ?? []).map((v) => linkSubject(t, v))];
  const perTransport = chosen.flatMap((t) => {
    if (choice === 'bus') return [busSubject(t)];
    if (choice === 'link') return link(t);
    return [busSubject(t), ...link(t)];
  });
  return [...perTransport, ...baselines.map((b) => b.subject)];
}
