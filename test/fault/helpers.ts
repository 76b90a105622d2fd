/**
 * helpers.ts: what the fault matrix (test/fault/) shares: the transports it runs over, the
 * per-case leftover check, and small waits on processes.
 *
 * The leftover check looks only at objects that carry this case's pids or names (queues
 * whose last sender or receiver is one of the case's processes, this one included where it
 * listened: cases run one at a time, so anything of ours still there is this case's; /dev/shm names that
 * contain one of its pids or tags, the entries of its own temp dir), never at the machine as
 * a whole: other engineers' runs overlap ours, and the suite-wide leak check
 * (test/setup/leak-check.ts) looks at everything once, at the end.
 */
import { expect } from 'chai';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { getTransport, type Transport } from '../../src/index.js';

/**
 * Every transport the matrix covers, by the label its cases carry: shm twice, as a
 * parent/child pair (`shm`) and through its named rendezvous (`shm-named`, shm://name), which
 * are different code paths with different OS objects. nats reaches the shared test server
 * through SWITCHYARD_NATS_URL (test/transports/nats-shared-server.test.ts: load it first when
 * running these files alone; without a server the nats cases fail saying so, never skip).
 */
export const FAULT_TRANSPORTS = ['pipe', 'socketpair', 'fifo', 'unix', 'tcp', 'udp', 'msgq', 'shm', 'shm-named', 'nats'] as const;
export type FaultLabel = (typeof FAULT_TRANSPORTS)[number];

/**
 * The transport behind a label. `shm-named` is shm without its pair(): the bus test bench
 * (test/bus/peers.ts) then listens at a shm://name and lets the child connect.
 */
export function transportOf(label: string): Transport {
  if (label === 'shm-named') {
    const shm = getTransport('shm');
    return { scheme: shm.scheme, capabilities: shm.capabilities, listen: shm.listen.bind(shm), connect: shm.connect.bind(shm) };
  }
  return getTransport(label);
}

function ipcsRows(kind: 'q' | 'm', flag: '-p' | '-c'): string[][] {
  const out = execFileSync('ipcs', [`-${kind}`, flag], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => /^\d+$/.test(cols[0] ?? ''));
}

/**
 * SysV queues and segments whose last user (queues: last sender or receiver) or creator
 * (segments) is one of `pids` (`ipcs -p`: id owner lspid lrpid, or id owner cpid lpid).
 */
export function sysvOf(pids: number[]): string[] {
  const found: string[] = [];
  for (const kind of ['q', 'm'] as const) {
    for (const cols of ipcsRows(kind, '-p')) {
      if (pids.includes(Number(cols[2])) || pids.includes(Number(cols[3]))) found.push(`ipcs -${kind} id ${cols[0]}`);
    }
  }
  return found;
}

/** Whether SysV queue `id` still exists. */
export function queueExists(id: number): boolean {
  return ipcsRows('q', '-p').some((cols) => Number(cols[0]) === id);
}

/** /dev/shm names that contain one of `pids` (as a whole number) or one of `tags`. */
export function devShmOf(pids: number[], tags: string[] = []): string[] {
  return readdirSync('/dev/shm').filter((n) => pids.some((p) => new RegExp(`(^|\\D)${p}(\\D|$)`).test(n)) || tags.some((t) => t !== '' && n.includes(t)));
}

/**
 * Asserts that nothing of this case is left: no SysV object of `pids`, no /dev/shm name
 * with one of `pids` or `tags`, nothing in `dir` (when the case has one).
 */
export function expectNothingLeft(what: string, pids: number[], dir: string | undefined, tags: string[] = []): void {
  expect(sysvOf(pids), `${what}: SysV objects of pids ${pids.join(',')}`).to.deep.equal([]);
  expect(devShmOf(pids, tags), `${what}: /dev/shm`).to.deep.equal([]);
  if (dir !== undefined) expect(readdirSync(dir), `${what}: temp dir ${dir}`).to.deep.equal([]);
}

/** The names in os.tmpdir() (this run's own, see test/setup/leak-check.ts) that start with `prefix`. */
export function tmpNames(prefix: string): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((n) => n.startsWith(prefix)));
}

/** Resolves when `proc` has exited (at once if it has). */
export function exited(proc: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve({ code: proc.exitCode, signal: proc.signalCode });
    else proc.once('exit', (code, signal) => resolve({ code, signal }));
  });
}


/**
 * What a stream of 0, 1, 2, ... may look like on arrival over `transport`: on a reliable,
 * ordered one exactly 0, 1, 2, ... (nothing reordered, duplicated or skipped); on udp, which
 * promises neither order nor delivery (loss and reordering are counted, not prevented), only
 * that no value arrives twice and none that was never sent.
 */
export function expectSequence(values: readonly number[], transport: Transport, what: string): void {
  if (transport.capabilities.reliable && transport.capabilities.ordered) {
    expect(values, what).to.deep.equal(values.map((_, i) => i));
    return;
  }
  expect(new Set(values).size, `${what}: no duplicates`).to.equal(values.length);
  for (const v of values) expect(Number.isInteger(v) && v >= 0, `${what}: ${v} is a value the source sent`).to.equal(true);
}
