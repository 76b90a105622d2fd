/**
 * pinning.ts: --cpu A,B: the bench process on CPU A, every peer process on CPU B, through
 * util-linux `taskset` when it is installed (Node has no affinity API). Without taskset the
 * run goes on unpinned and says so. Worker threads start inside the bench process and so
 * share CPU A: their figures are marked as threads anyway.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Pinning {
  /** For the report: what was done. */
  readonly description: string;
  /** Pins a peer process (no-op when unpinned). */
  pinPeer(pid: number): Promise<void>;
}

export const NO_PINNING: Pinning = { description: 'none', pinPeer: async () => {} };

/** Pins this process (all its threads) to `bench` and returns a pinner for peers, or why not. */
export async function pinCpus(bench: number, peers: number): Promise<Pinning | { skipped: string }> {
  try {
    await run('taskset', ['-a', '-p', '-c', String(bench), String(process.pid)]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return { skipped: 'taskset (util-linux) is not installed' };
    return { skipped: `taskset failed: ${(e.stderr ?? e.message).trim()}` };
  }
  return {
    description: `bench on CPU ${bench}, peers on CPU ${peers} (taskset)`,
    async pinPeer(pid: number): Promise<void> {
      await run('taskset', ['-a', '-p', '-c', String(peers), String(pid)]);
    },
  };
}
