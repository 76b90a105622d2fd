/**
 * registry.ts: the baselines measured beside our transports, by id (for --baselines), in table
 * order. The built-in ones are always there; optional-peers.ts adds those whose package is
 * installed.
 */
import type { Subject } from '../subject.js';
import { childIpcSubject } from './child-ipc.js';
import { OPTIONAL_PEERS } from './optional-peers.js';
import { rawUnixSubject } from './raw-unix.js';
import { workerSubject } from './worker.js';

export interface Baseline {
  readonly id: string;
  readonly subject: Subject;
}

export const BUILTIN_BASELINES: readonly Baseline[] = [
  { id: 'child-json', subject: childIpcSubject('json') },
  { id: 'child-advanced', subject: childIpcSubject('advanced') },
  { id: 'raw-unix', subject: rawUnixSubject },
  { id: 'worker', subject: workerSubject },
];

/** Every baseline id this tool knows, installed or not (for validating --baselines). */
export const BASELINE_IDS: readonly string[] = [...BUILTIN_BASELINES.map((b) => b.id), ...OPTIONAL_PEERS.map((p) => p.id)];

/** The baselines that can run here; `missing` lists optional packages that are not installed. */
export async function availableBaselines(): Promise<{ baselines: Baseline[]; missing: string[] }> {
  const baselines = [...BUILTIN_BASELINES];
  const missing: string[] = [];
  for (const peer of OPTIONAL_PEERS) {
    const subject = await peer.load();
    if (subject) baselines.push({ id: peer.id, subject });
    else missing.push(peer.packageName);
  }
  return { baselines, missing };
}
