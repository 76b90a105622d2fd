/**
 * spawn-measure.ts: the timings of `switchyard bench --level spawn`, each over `runs` fresh
 * children after one untimed warm-up (which pays for the cold file cache, not the transport):
 *
 * - first answer: `await system.spawn(peer, { transport })`, then one ask answered;
 * - restart: SIGKILL of the running child to the next ask answered by its new incarnation,
 *   under a supervisor with backoff 0 and room for every restart (system.spawn() keeps the
 *   default intensity, 3 restarts in 5 s, which 30 quick kills would exceed: so this one uses
 *   system.supervise() with one child, the same supervised child behind the same kind of ref);
 * - baseline: child_process.fork of a script that echoes, to its first IPC message back.
 *
 * Invariants: every child started here is stopped before the function returns, whether it
 * measured or threw (ref.stop(), supervisor.stop(), or disconnect and wait for 'exit'); the
 * caller's ActorSystem is left with nothing running.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { PeerGoneError, type ActorSystem, type SupervisedRef } from '../src/index.js';
import type { SpawnRow, SpawnTiming } from './spawn-result.js';
import { percentile } from './stats.js';

const PEER = new URL('./peers/spawn-peer.js', import.meta.url);
const FORK_PEER = fileURLToPath(new URL('./peers/fork-peer.js', import.meta.url));
/** Longest one restart may take before the row fails (a default ask timeout would hide a hang for 30 s). */
const RESTART_DEADLINE_MS = 15_000;

/** What a measurement says while it runs (one line per finished timing). */
export type SpawnProgress = (line: string) => void;

export function summarizeMs(samples: readonly number[]): SpawnTiming {
  const sorted = Float64Array.from(samples).sort();
  return { p50Ms: percentile(sorted, 0.5), p90Ms: percentile(sorted, 0.9), minMs: sorted[0] ?? Number.NaN, maxMs: sorted[sorted.length - 1] ?? Number.NaN, samples: sorted.length };
}

async function firstAnswerOnce(system: ActorSystem, transport: string, name: string): Promise<number> {
  const t0 = performance.now();
  const ref = await system.spawn(PEER, { transport, name, restart: 'temporary' });
  try {
    const pid = await ref.ask('pid');
    const ms = performance.now() - t0;
    if (pid !== ref.pid) throw new Error(`the child answered pid ${String(pid)}, but its ref says ${String(ref.pid)}`);
    return ms;
  } finally {
    await ref.stop();
  }
}

/** SIGKILLs the child behind `ref`; resolves with the ms until its next incarnation answers. */
async function restartOnce(ref: SupervisedRef): Promise<number> {
  const old = ref.pid;
  if (old === undefined) throw new Error(`no running child to kill (status ${ref.status.type})`);
  const t0 = performance.now();
  process.kill(old, 'SIGKILL');
  for (;;) {
    const left = Math.round(RESTART_DEADLINE_MS - (performance.now() - t0));
    if (left <= 0) throw new Error(`no answer within ${RESTART_DEADLINE_MS} ms of SIGKILL to pid ${old}`);
    try {
      const pid = await ref.with({ timeout: left }).ask('pid');
      if (pid !== old) return performance.now() - t0;
    } catch (err) {
      // the ask was in flight on the dead link: the next one waits for the restart
      if (!(err instanceof PeerGoneError)) throw err;
    }
    await yieldToLoop();
  }
}

/** First-answer and restart timings of system.spawn() over `transport`. */
export async function measureTransport(system: ActorSystem, transport: string, runs: number, progress: SpawnProgress): Promise<SpawnRow> {
  const first: number[] = [];
  await firstAnswerOnce(system, transport, `spawn-${transport}-warmup`);
  for (let i = 0; i < runs; i++) first.push(await firstAnswerOnce(system, transport, `spawn-${transport}-${i}`));
  const firstAnswer = summarizeMs(first);
  progress(`${transport}: spawn to first answer p50 ${firstAnswer.p50Ms.toFixed(1)} ms (${runs} children)`);

  const sup = await system.supervise(
    [{ module: PEER, transport, name: `restart-${transport}`, backoff: { initialMs: 0 } }],
    { intensity: { maxRestarts: runs + 2, periodMs: 3_600_000 } },
  );
  const restarts: number[] = [];
  try {
    const ref = sup.children[0]!;
    await ref.ask('pid');
    await restartOnce(ref); // warm-up
    for (let i = 0; i < runs; i++) restarts.push(await restartOnce(ref));
  } finally {
    await sup.stop();
  }
  const restart = summarizeMs(restarts);
  progress(`${transport}: SIGKILL to next answer p50 ${restart.p50Ms.toFixed(1)} ms (${runs} restarts)`);
  return { name: transport, kind: 'transport', firstAnswer, restart };
}

async function forkOnce(): Promise<number> {
  const t0 = performance.now();
  const child = fork(FORK_PEER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const exited = once(child, 'exit');
  try {
    const answer = once(child, 'message');
    const died = exited.then(([code, signal]) => {
      throw new Error(`fork-peer exited (${String(code ?? signal)}) before it answered`);
    });
    died.catch(() => undefined); // it exits after the answer too: only the race may see this
    child.send('ping');
    const [reply] = (await Promise.race([answer, died])) as unknown[];
    const ms = performance.now() - t0;
    if (reply !== 'ping') throw new Error(`fork-peer answered ${JSON.stringify(reply)}, not "ping"`);
    return ms;
  } finally {
    if (child.connected) child.disconnect();
    else if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}

/** The baseline: child_process.fork of a tiny script to its first IPC message back. */
export async function measureFork(runs: number, progress: SpawnProgress): Promise<SpawnRow> {
  const samples: number[] = [];
  await forkOnce();
  for (let i = 0; i < runs; i++) samples.push(await forkOnce());
  const firstAnswer = summarizeMs(samples);
  progress(`child_process.fork: first answer p50 ${firstAnswer.p50Ms.toFixed(1)} ms (${runs} children)`);
  return { name: 'child_process.fork', kind: 'baseline', firstAnswer, restart: null };
}
