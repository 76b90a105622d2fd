/**
 * os-objects.ts: the named OS objects a soak run may leave behind, and which of them are its
 * own. The machine is shared, so "its own" must be decided by evidence, not by difference
 * alone: a /dev/shm name that appeared during the run and carries one of our pids (shm names
 * carry the listener's pid, private-address.ts), or a SysV queue that appeared during the run
 * and was last written or read by one of our processes (/proc/sysvipc/msg lspid/lrpid; a
 * queue records no creator pid). The temp dir is ours alone (the run points TMPDIR at it),
 * so anything left in it is a leak.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** What existed before the run. */
export interface Snapshot {
  shm: Set<string>;
  queues: Set<number>;
}

interface QueueRow {
  key: number;
  msqid: number;
  lspid: number;
  lrpid: number;
}

function queues(): QueueRow[] {
  if (!existsSync('/proc/sysvipc/msg')) return [];
  const [, ...rows] = readFileSync('/proc/sysvipc/msg', 'utf8').trim().split('\n');
  return rows
    .map((r) => r.trim().split(/\s+/).map(Number))
    .filter((f) => f.length >= 7)
    .map((f) => ({ key: f[0]!, msqid: f[1]!, lspid: f[5]!, lrpid: f[6]! }));
}

export function snapshot(): Snapshot {
  return { shm: new Set(readdirSync('/dev/shm')), queues: new Set(queues().map((q) => q.msqid)) };
}

/** Sentences naming each object of ours still there (`pids`: the parent and every child it ran). */
export function leftovers(before: Snapshot, pids: ReadonlySet<number>, tempDir: string): string[] {
  const found: string[] = [];
  const pidPattern = new RegExp(`(^|[^0-9])(${[...pids].join('|')})([^0-9]|$)`);
  for (const name of readdirSync('/dev/shm')) {
    if (!before.shm.has(name) && pidPattern.test(name)) found.push(`/dev/shm/${name} left behind`);
  }
  for (const q of queues()) {
    if (!before.queues.has(q.msqid) && (pids.has(q.lspid) || pids.has(q.lrpid))) found.push(`SysV message queue key 0x${(q.key >>> 0).toString(16)} (msqid ${q.msqid}) left behind`);
  }
  if (existsSync(tempDir)) {
    for (const name of readdirSync(tempDir)) found.push(`${tempDir}/${name} left behind in the run's temp dir`);
  }
  return found;
}
