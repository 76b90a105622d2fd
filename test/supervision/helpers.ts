/**
 * helpers.ts: what the supervision suite shares: the transports each case runs over, the
 * fixture module, and waiting on a child's lifecycle (status$) or on the OS (/proc) with a
 * deadline that names what did not happen.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom, timeout, type Observable } from 'rxjs';
import type { ChildStatus } from '../../src/index.js';

/** The actor module every case spawns (compiled). */
export const WORKER = new URL('../fixtures/supervised-worker.js', import.meta.url);
export const WORKER_PATH = fileURLToPath(WORKER);

/** Every case runs over these (the minimum). */
export const CORE_TRANSPORTS = ['pipe', 'socketpair', 'shm', 'unix', 'tcp'] as const;
/** The basic cases also run over the other addressed transports. */
export const ALL_TRANSPORTS = [...CORE_TRANSPORTS, 'fifo', 'msgq', 'udp'] as const;

/** The first status matching `pred`, within `ms` (status$ replays the latest one first). */
export function statusWhere(status$: Observable<ChildStatus>, pred: (s: ChildStatus) => boolean, ms: number, what: string): Promise<ChildStatus> {
  return firstValueFrom(
    status$.pipe(
      filter(pred),
      timeout({ first: ms, with: () => Promise.reject(new Error(`${what}: not within ${ms} ms`)) }),
    ),
  );
}

/** Resolves with the pid of the next `running` status whose pid is not `oldPid`. */
export async function nextRunning(status$: Observable<ChildStatus>, oldPid: number | undefined, ms = 15_000): Promise<number> {
  const s = await statusWhere(status$, (x) => x.type === 'running' && x.pid !== oldPid, ms, `a new incarnation after pid ${oldPid}`);
  return (s as Extract<ChildStatus, { type: 'running' }>).pid;
}

/** Records every status a child emits from now on. */
export function record(status$: Observable<ChildStatus>): ChildStatus[] {
  const seen: ChildStatus[] = [];
  status$.subscribe((s) => seen.push(s));
  return seen;
}

/** The process's state letter from /proc (`Z` for a zombie), or undefined if there is no such process. */
export function procState(pid: number): string | undefined {
  if (!existsSync(`/proc/${pid}`)) return undefined;
  try {
    return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  const s = procState(pid);
  return s !== undefined && s !== 'Z';
}

/**
 * Waits until `pid` is gone, polling /proc: reaped (no zombie left), or, with
 * `zombieIsGone` (for an orphan, whose reaping is init's job, done on init's schedule), exited.
 */
export async function gone(pid: number, ms: number, what: string, zombieIsGone = false): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const state = procState(pid);
    if (state === undefined || (zombieIsGone && state === 'Z')) return;
    if (Date.now() > end) throw new Error(`${what}: pid ${pid} still there (state ${procState(pid)}) after ${ms} ms`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Whether `a`'s /proc cmdline is the node binary running child-main.js directly (no shell between). */
export function cmdline(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}
