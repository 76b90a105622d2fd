/**
 * optional-peers.ts: baselines from packages switchyard does not depend on (`zeromq`,
 * `node-ipc`). They join the table only when the user has installed them; we never add them
 * to package.json (node-ipc shipped protestware in 2022; zeromq downloads or builds native
 * code at install). Detection is a dynamic import, so their absence costs nothing.
 */
import type { Subject } from '../subject.js';

/** An optional package's baseline, and whether it can run here. */
export interface OptionalPeer {
  readonly id: string;
  readonly packageName: string;
  /** The subject, or null when the package is not installed. */
  load(): Promise<Subject | null>;
}

export async function importable(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch {
    return false;
  }
}

export const OPTIONAL_PEERS: readonly OptionalPeer[] = [
  {
    id: 'zeromq',
    packageName: 'zeromq',
    async load() {
      if (!(await importable('zeromq'))) return null;
      return (await import('./zeromq.js')).zeromqSubject;
    },
  },
  {
    id: 'node-ipc',
    packageName: 'node-ipc',
    async load() {
      if (!(await importable('node-ipc'))) return null;
      return (await import('./node-ipc.js')).nodeIpcSubject;
    },
  },
];
