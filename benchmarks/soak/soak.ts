/**
 * soak.ts: `npm run soak -- --seconds N`, the entry point. One supervised child per transport
 * (system.supervise, one supervisor each, so a transport that cannot start fails alone and
 * restarts are never refused for intensity), every transport's traffic at once (driver.ts),
 * random SIGKILLs of the children, a resource line every few seconds, two quiesced
 * checkpoints (at 25% of the run but 5 s at the earliest, and at its end) for the growth rule (resources.ts), then the
 * table, and a search for OS objects left behind (os-objects.ts) once the system has stopped.
 *
 * Exit codes: 0 every promise kept; 1 some promise broken (each reason printed); 2 usage;
 * 128+n interrupted by signal n (after the same stop and cleanup).
 *
 * It lives in benchmarks/ beside the bench: it is a harness above the library (it needs
 * cli-table3, a devDependency), compiled to dist/benchmarks, never imported by src/.
 * TMPDIR points at a 0700 directory of this run's own, so what the children's transports
 * create in the temp dir is ours to account for, and nothing else's.
 */
import { onStopSignals } from '../../src/cli/stop-signals.js';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ActorSystem, getTransport, listTransports, type SupervisedRef } from '../../src/index.js';
import { hasPrivateAddress } from '../../src/transports/core/private-address.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { reachableTransports } from '../reachable-transports.js';
import { Gate } from './gate.js';
import { describe, Ledger } from './ledger.js';
import { TransportDriver } from './driver.js';
import { leftovers, snapshot } from './os-objects.js';
import { formatUsage, growthProblems, readUsage, type Usage } from './resources.js';
import { parseSoakArgs, SOAK_USAGE, type SoakOptions } from './soak-args.js';
import { LEGEND, renderSoakTable } from './soak-table.js';

const ASK_TIMEOUT_MS = 20_000;
/**
 * The warm-up checkpoint is at 25% of the run, but never before this: V8 grows its young
 * generation under load for the first seconds, which is sizing, not a leak.
 */
const WARM_UP_MIN_MS = 5000;
/** How long a child may take to run the first time. */
const START_DEADLINE_MS = 30_000;
/** How long a quiesce may wait for loops to park and children to run again. */
const QUIESCE_MS = ASK_TIMEOUT_MS + 20_000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function within<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))]).finally(() => clearTimeout(timer));
}

interface Checkpoint {
  parent: Usage;
  children: Map<string, Usage | undefined>;
}

class Soak {
  readonly drivers: TransportDriver[] = [];
  readonly problems: string[] = [];
  private readonly gate = new Gate();
  private killing = false;
  private killTimer: NodeJS.Timeout | undefined;
  /** When the traffic began: the run's N seconds and the resource lines count from here. */
  private started = Date.now();
  private stopEarly: (() => void) | undefined;
  /** False when the run was too short for the growth rule (GROWTH_MIN_SECONDS). */
  growthJudged = true;
  /** A signal ended the traffic early: no more waiting, and no growth verdict on a cut run. */
  interrupted = false;
  private trafficStarted = false;

  constructor(
    readonly system: ActorSystem,
    readonly options: SoakOptions,
  ) {}

  async spawn(transports: readonly string[]): Promise<void> {
    const module = new URL('./soak-actor.js', import.meta.url);
    for (const transport of transports) {
      if (this.interrupted) break;
      const ledger = new Ledger(transport, getTransport(transport).capabilities.reliable);
      try {
        const starting = this.system.supervise([{ module, name: `soak-${transport}`, transport, execArgv: ['--expose-gc'], backoff: { initialMs: 50, maxMs: 1000 } }], {
          intensity: { maxRestarts: 1_000_000, periodMs: 1000 },
        });
        // with restarts never refused, a child that cannot link would be retried for ever: give
        // up on it here (system.stop() ends its supervisor) and run the others
        const sup = await within(starting, START_DEADLINE_MS);
        if (sup === 'timeout') {
          this.problems.push(`${transport}: the child did not run within ${START_DEADLINE_MS} ms`);
          continue;
        }
        this.drivers.push(new TransportDriver(transport, sup.children[0] as SupervisedRef, ledger));
        void sup.failed.then((e) => ledger.violation(`the supervisor gave up: ${e.message}`));
      } catch (err) {
        this.problems.push(`${transport}: the child could not be started: ${describe(err)}`);
      }
    }
  }

  async run(): Promise<void> {
    this.trafficStarted = true;
    this.started = Date.now();
    const loops = Promise.all(this.drivers.map((d) => d.run(this.gate)));
    const sampler = setInterval(() => this.sampleLine(), this.options.sampleEvery * 1000);
    this.killing = this.options.killEveryMs > 0;
    this.scheduleKill();
    const totalMs = this.options.seconds * 1000;
    await this.sleepUnlessStopped(Math.max(totalMs / 4, WARM_UP_MIN_MS));
    const warm = this.interrupted ? undefined : await this.checkpoint('warm-up (25%)');
    await this.sleepUnlessStopped(this.started + totalMs - Date.now());
    this.killing = false;
    clearTimeout(this.killTimer);
    const end = await this.checkpoint('end');
    clearInterval(sampler);
    this.gate.close();
    if ((await within(loops, QUIESCE_MS)) === 'timeout') {
      for (const d of this.drivers) for (const what of d.unsettled()) d.ledger.unsettled(what);
    }
    if (warm && end && !this.interrupted) this.compare(warm, end);
  }

  /** Ends the traffic phase now (a signal); the stop, the report and the cleanup still run. */
  interrupt(): void {
    this.interrupted = true;
    this.stopEarly?.();
    // still starting children: stopping the system ends a supervise() that waits for a child
    if (!this.trafficStarted) void this.system.stop().catch(() => {});
  }

  private async sleepUnlessStopped(ms: number): Promise<void> {
    if (ms <= 0 || this.interrupted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.stopEarly = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private scheduleKill(): void {
    if (!this.killing) return;
    const mean = this.options.killEveryMs;
    this.killTimer = setTimeout(() => {
      const running = this.drivers.filter((d) => d.ref.status.type === 'running' && d.ref.pid !== undefined);
      const victim = running[Math.floor(Math.random() * running.length)];
      if (victim && this.killing) {
        try {
          process.kill(victim.ref.pid!, 'SIGKILL');
          victim.ledger.counts.kills++;
        } catch {
          // it exited by itself just now: nothing to count
        }
      }
      this.scheduleKill();
    }, mean * (0.5 + Math.random()));
  }

  private sampleLine(): void {
    const t = Math.round((Date.now() - this.started) / 1000);
    const parts = [`parent ${formatUsage(readUsage('self'))}`];
    for (const d of this.drivers) parts.push(`${d.transport} ${d.ref.pid === undefined ? 'down' : formatUsage(readUsage(d.ref.pid))}`);
    process.stdout.write(`[${String(t).padStart(4)}s] ${parts.join(' | ')}\n`);
  }

  /**
   * Quiesces (kills held, every loop parked, every child running, a full GC everywhere),
   * samples every process, then lets the traffic go on.
   */
  private async checkpoint(name: string): Promise<Checkpoint | undefined> {
    const wasKilling = this.killing;
    this.killing = false;
    clearTimeout(this.killTimer);
    try {
      if ((await within(this.gate.pause(), QUIESCE_MS)) === 'timeout') {
        for (const d of this.drivers) for (const what of d.unsettled()) d.ledger.unsettled(`at the ${name} checkpoint, ${what}`);
        return undefined;
      }
      const deadline = Date.now() + QUIESCE_MS;
      while (this.drivers.some((d) => d.ref.status.type !== 'running') && Date.now() < deadline) await sleep(50);
      const down = this.drivers.filter((d) => d.ref.status.type !== 'running');
      if (down.length) {
        this.problems.push(`at the ${name} checkpoint, ${down.map((d) => d.transport).join(', ')} did not run again within ${QUIESCE_MS} ms`);
        return undefined;
      }
      const heaps = await Promise.allSettled(this.drivers.map((d) => d.ref.ask('gc')));
      const heapOf = (i: number): string => {
        const h = heaps[i]!;
        return h.status === 'fulfilled' && typeof h.value === 'number' ? ` heap ${(h.value / 2 ** 20).toFixed(1)}MB` : '';
      };
      (globalThis as { gc?: () => void }).gc?.();
      await sleep(300);
      const parent = readUsage('self')!;
      const children = new Map(this.drivers.map((d) => [d.transport, d.ref.pid === undefined ? undefined : readUsage(d.ref.pid)] as const));
      const heapMb = (process.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
      process.stdout.write(`checkpoint ${name}: parent ${formatUsage(parent)} (heap ${heapMb}MB after GC) | ${this.drivers.map((d, i) => `${d.transport}[${children.get(d.transport)?.pid ?? '-'}] ${formatUsage(children.get(d.transport))}${heapOf(i)}`).join(' | ')}\n`);
      return { parent, children };
    } finally {
      this.gate.resume();
      this.killing = wasKilling;
      this.scheduleKill();
    }
  }

  private compare(warm: Checkpoint, end: Checkpoint): void {
    // A short run ends while the allocators are still sizing themselves (the parent's RSS rose
    // 23% between 5 s and 8 s with its JS heap flat): its growth says nothing about a leak.
    if (this.options.seconds < GROWTH_MIN_SECONDS) {
      this.growthJudged = false;
      return;
    }
    this.problems.push(...growthProblems('parent', warm.parent, end.parent));
    for (const d of this.drivers) {
      const a = warm.children.get(d.transport);
      const b = end.children.get(d.transport);
      // a child killed in between is a new process: its figures start over, nothing to compare
      if (a && b && a.pid === b.pid) this.problems.push(...growthProblems(`${d.transport} child ${a.pid}`, a, b));
    }
  }
}

/** Runs shorter than this get no growth verdict: warm-up is not over at their first checkpoint. */
const GROWTH_MIN_SECONDS = 30;

/** The transports the soak can run: those spawn() can link a child over. */
function spawnable(): string[] {
  return listTransports()
    .filter((t) => t.pair || hasPrivateAddress(t.scheme))
    .map((t) => t.scheme);
}

export async function soakCommand(argv: readonly string[]): Promise<number> {
  const known = spawnable();
  const options = parseSoakArgs(argv, known);
  if (options.help) {
    process.stdout.write(SOAK_USAGE);
    return 0;
  }
  const notes: string[] = [];
  const unreachable: string[] = [];
  let transports = options.transports;
  if (!transports) {
    const reachable = await reachableTransports(known);
    transports = reachable.schemes;
    notes.push(...reachable.notes.map((n) => n.replace('nats left out', 'nats not run')));
  } else {
    // asked for by name: a missing server is a failure of the run, said before anything starts
    const reachable = await reachableTransports(transports);
    transports = reachable.schemes;
    unreachable.push(...reachable.notes.map((n) => n.replace(/^nats left out: (no NATS server at \S+).*/, 'nats: asked for, but $1: not run')));
  }

  const runDir = mkdtempSync(join(tmpdir(), 'switchyard-soak-'));
  process.env.TMPDIR = runDir;
  const before = snapshot();
  const system = await ActorSystem.start({ name: `soak-${process.pid}`, askTimeoutMs: ASK_TIMEOUT_MS, onError: () => {} });
  const soak = new Soak(system, options);
  soak.problems.push(...unreachable);
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      // the impatient second signal: the transports' exit handlers remove their objects, then
      // (registered after them, so run after them) our temp dir goes if they left it empty
      process.on('exit', () => {
        try {
          rmdirSync(runDir);
        } catch {
          // not empty: a leftover, not ours to hide
        }
      });
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    signalled = signal;
    process.stderr.write(`soak: ${signal}: ending the run early\n`);
    soak.interrupt();
  };
  const stopHearing = onStopSignals(onSignal);

  process.stdout.write(`soak: ${options.seconds} s over ${transports.join(', ')}; ${options.killEveryMs > 0 ? `a SIGKILL every ~${options.killEveryMs} ms` : 'no SIGKILLs'}; resources as RSS/threads/fds\n`);
  for (const n of notes) process.stdout.write(`soak: ${n}\n`);
  await soak.spawn(transports);
  if (soak.drivers.length && !soak.interrupted) await soak.run();

  const pids = new Set<number>([process.pid]);
  for (const d of soak.drivers) for (const p of d.pids) pids.add(p);
  await system.stop();
  stopHearing();
  const left = leftovers(before, pids, runDir);
  try {
    rmdirSync(runDir);
  } catch {
    // not empty: listed in `left` above
  }

  const ledgers = soak.drivers.map((d) => d.ledger);
  process.stdout.write(`${renderSoakTable(ledgers)}\n${LEGEND}\n`);
  const broken = [...soak.problems, ...left];
  for (const l of ledgers) for (const v of l.violations) broken.push(`${l.transport}: ${v}`);
  for (const l of ledgers) if (l.broken > l.violations.length) broken.push(`${l.transport}: ${l.broken - l.violations.length} more broken promise(s)`);
  if (left.length === 0) process.stdout.write('soak: nothing of this run left in ipcs -q, /dev/shm or its temp dir\n');
  if (broken.length === 0) {
    process.stdout.write(
      soak.interrupted
        ? `soak: interrupted by ${signalled}: every promise kept so far; growth not judged on a cut run\n`
        : soak.growthJudged
          ? 'soak: PASS: every promise kept; resources flat after warm-up\n'
          : `soak: PASS: every promise kept; growth not judged on a run under ${GROWTH_MIN_SECONDS} s (still warming up)\n`,
    );
    return signalled ? 128 + (osConstants.signals[signalled] ?? 0) : 0;
  }
  process.stdout.write(`soak: FAIL: ${broken.length} broken promise(s):\n${broken.map((b) => `  - ${b}`).join('\n')}\n`);
  return signalled ? 128 + (osConstants.signals[signalled] ?? 0) : 1;
}

try {
  process.exitCode = await soakCommand(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`soak: ${err.message}\n(npm run soak -- --help lists the options)\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}
