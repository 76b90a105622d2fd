/**
 * levels.ts: what `--level` can measure. Each level turns the user's selection into Subjects;
 * a level not built yet says so instead of failing obscurely. The bus level plugs in here
 * (its own Subject per transport) once src/bus exists.
 */
import { listTransports } from '../index.js';
import type { Baseline } from './baselines/registry.js';
import { linkSubject } from './link-subject.js';
import type { BenchLevel } from './result.js';
import type { Subject } from './subject.js';

export interface LevelSelection {
  /** Transport schemes, already validated against the registry. */
  transports: string[];
  baselines: Baseline[];
}

export type Level =
  | { readonly available: true; readonly describe: string; subjects(selection: LevelSelection): Subject[] }
  | { readonly available: false; readonly reason: string };

export const LEVELS: Record<BenchLevel, Level> = {
  link: {
    available: true,
    describe: 'raw frames over a Link',
    subjects: ({ transports, baselines }) => [
      ...listTransports()
        .filter((t) => transports.includes(t.scheme))
        .map(linkSubject),
      ...baselines.map((b) => b.subject),
    ],
  },
  bus: { available: false, reason: 'the bus level is not available yet (it arrives with src/bus); use --level link' },
};

export function isLevel(name: string): name is BenchLevel {
  return Object.hasOwn(LEVELS, name);
}
