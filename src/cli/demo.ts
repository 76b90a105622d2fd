/**
 * demo.ts: `switchyard demo [--seconds N] [--rate N]`: switchyard working, live, in the
 * terminal. This process is the hub: an ActorSystem that starts three worker processes
 * (the actor module demo/worker-actor.ts) with system.supervise(), linked three ways: over
 * a socketpair, a Unix socket and TCP. Then:
 *   - it subscribes to every worker's `values` stream (flow-controlled: a generator in the
 *     worker is pulled by our credit) and counts values per second;
 *   - it asks every worker `ping` every 100 ms and shows the round trip;
 *   - it hands each worker a ref to the next one, and each worker streams its neighbour's
 *     values through the hub (worker to worker, routed by the bus);
 *   - once, at 40% of the run, it kills worker-2 with SIGKILL: the supervisor starts it
 *     again, the streams that broke resubscribe (RxJS retry), and the hub says so.
 * One line per worker, redrawn in place on a terminal (a line per worker per second
 * otherwise); events and errors are printed on their own lines above it, never cut off.
 * After N seconds (default 10), or on Ctrl-C/SIGTERM, it stops: unsubscribes, stops the
 * workers (they are drained, then SIGTERMed, and reaped) and leaves no file behind.
 * Exit 0 when the time ran out, 128 + n after a signal.
 */
import { constants as osConstants } from 'node:os';
import { retry, timer, type Subscription } from 'rxjs';
import { ActorSystem, type SupervisedRef } from '../index.js';
import { formatRate, formatUs } from './format.js';
import { onStopSignals } from './stop-signals.js';
import { describeError } from './cli-error.js';
import { parseCommandArgs, wholeNumber } from './command-args.js';
import { UsageError } from './usage-error.js';
import type { demoWorker } from './demo/worker-actor.js';

export const DEMO_USAGE = `usage: switchyard demo [--seconds N] [--rate N]

Starts three supervised worker processes linked to this one (the hub) over a socketpair, a
Unix socket and TCP; streams values from every worker, and from each worker to the next
through the hub, and shows live rates and ask round trips. Partway through it kills one
worker with SIGKILL and shows its supervisor bringing it back. Stops by itself after N
seconds, or on Ctrl-C, and leaves no process or file behind.

  --seconds N   how long to run (default 10)
  --rate N      values per second each worker streams at most (default 5000)
`;

const WORKER_MODULE = new URL('./demo/worker-actor.js', import.meta.url);
const PLAN: ReadonlyArray<[string, string]> = [
  ['worker-1', 'socketpair'],
  ['worker-2', 'unix'],
  ['worker-3', 'tcp'],
];
/** The worker killed once during the run, and when (share of the run). */
const VICTIM = 'worker-2';
const KILL_AT = 0.4;
const PING_MS = 100;
const RESUBSCRIBE_MS = 200;

interface Worker {
  name: string;
  transport: string;
  ref: SupervisedRef<typeof demoWorker>;
  /** Values received from this worker's stream, total and at the last redraw. */
  received: number;
  lastReceived: number;
  /** The neighbour's values this worker received, through the hub, at the last two redraws. */
  relayed: number;
  lastRelayed: number;
  relayFrom: string;
  relayError: string;
  /** Recent ping round trips, µs. */
  pings: number[];
  subscription?: Subscription;
}

function median(xs: number[]): number {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function demo(argv: readonly string[]): Promise<number> {
  const { positionals, flags, help } = parseCommandArgs(argv, ['seconds', 'rate']);
  if (help) {
    process.stdout.write(DEMO_USAGE);
    return 0;
  }
  if (positionals.length) throw new UsageError(`demo takes only options, got "${positionals.join(' ')}"`);
  const seconds = flags.has('seconds') ? wholeNumber('seconds', flags.get('seconds')!, 1, 3600) : 10;
  const rate = flags.has('rate') ? wholeNumber('rate', flags.get('rate')!, 1, 1_000_000) : 5000;
  const tty = process.stdout.isTTY === true;

  // Signals first, so the transports' own cleanup defers to this teardown (see serve.ts).
  let interrupted: NodeJS.Signals | undefined;
  let wake!: () => void;
  const stopRequested = new Promise<void>((r) => (wake = r));
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    wake();
  };
  const stopHearing = onStopSignals(onSignal);

  // Events and errors go above the live table, whole: the table is redrawn under them.
  let tableLines = 0;
  const say = (line: string): void => {
    if (tty && tableLines) process.stdout.write(`\x1b[${tableLines}A\x1b[0J`);
    tableLines = 0;
    process.stdout.write(`switchyard demo: ${line}\n`);
  };
  const system = await ActorSystem.start({ name: 'hub', forward: true, onError: (err, context) => say(`! ${context}: ${describeError(err)}`) });
  const workers: Worker[] = [];
  const pids = new Set<number>();
  const timers: NodeJS.Timeout[] = [];
  try {
    process.stdout.write(`switchyard demo: hub (pid ${process.pid})\n`);
    const supervising = system.supervise(
      PLAN.map(([name, transport]) => ({
          module: WORKER_MODULE,
          name,
          transport,
          drainMs: 1000,
          // a worker's own output is an event here too (never lost on another stream)
        stdio: (line: string, _stream: 'stdout' | 'stderr', pid: number) => say(`[${name} ${pid}] ${line}`),
      })),
    );
    // interrupted while starting: stop() below makes this reject, and nobody waits for it then
    supervising.catch(() => {});
    const started = await Promise.race([supervising, stopRequested.then(() => undefined)]);
    if (!started) return 128 + (osConstants.signals[interrupted!] ?? 0);
    for (const [i, [name, transport]] of PLAN.entries()) {
      const ref = started.children[i] as SupervisedRef<typeof demoWorker>;
      workers.push({ name, transport, ref, received: 0, lastReceived: 0, relayed: 0, lastRelayed: 0, relayFrom: '', relayError: '', pings: [] });
      pids.add(ref.pid!);
      process.stdout.write(`switchyard demo: ${name} (pid ${ref.pid}) linked over ${transport}\n`);
    }

    const watchNext = (i: number): void => {
      // Worker i watches worker i+1: its subscription travels worker -> hub -> worker.
      workers[i]!.ref.tell('watch', workers[(i + 1) % workers.length]!.ref, rate);
    };
    for (const [i, w] of workers.entries()) {
      w.subscription = w.ref
        .stream('values', rate)
        .pipe(
          retry({
            delay: (err: unknown) => {
              say(`${w.name}'s stream ended (${describeError(err)}); resubscribing`);
              return timer(RESUBSCRIBE_MS);
            },
          }),
        )
        .subscribe({ next: () => w.received++, error: (err: unknown) => say(`! ${w.name}'s stream: ${describeError(err)}`) });
      watchNext(i);
      w.ref.status$.subscribe((s) => {
        if (s.type === 'exited' && s.cause !== 'stopped') say(`${w.name} (pid ${s.pid}) exited: ${s.signal ?? `code ${s.code}`}`);
        else if (s.type === 'restarting') say(`${w.name}: its supervisor restarts it in ${s.delayMs} ms (attempt ${s.attempt})`);
        else if (s.type === 'failed') say(`! ${w.name} failed: ${s.why}`);
        else if (s.type === 'running' && s.incarnation > 1) {
          pids.add(s.pid);
          say(`${w.name} is back (pid ${s.pid}), fresh state: watching its neighbour again`);
          watchNext(i); // its state is new: tell it again whom to watch
        }
      });
    }
    timers.push(setInterval(() => {
      for (const w of workers) {
        const t0 = performance.now();
        w.ref.with({ timeout: 2000 }).ask('ping').then(
          () => {
            w.pings.push((performance.now() - t0) * 1000);
            if (w.pings.length > 20) w.pings.shift();
          },
          (err: unknown) => say(`! ${w.name} ping: ${describeError(err)}`),
        );
      }
    }, PING_MS));
    timers.push(setTimeout(() => {
      const victim = workers.find((w) => w.name === VICTIM)!;
      const pid = victim.ref.pid;
      if (pid === undefined) return;
      say(`killing ${VICTIM} (pid ${pid}) with SIGKILL`);
      process.kill(pid, 'SIGKILL');
    }, seconds * 1000 * KILL_AT));

    const t0 = Date.now();
    let lastDraw = t0;
    const draw = async (): Promise<void> => {
      const now = Date.now();
      const dt = Math.max(1, now - lastDraw) / 1000;
      lastDraw = now;
      await Promise.all(workers.map(async (w) => {
        try {
          const { from, count, error } = await w.ref.with({ timeout: 1000 }).ask('watched');
          w.relayFrom = from;
          w.relayed = count;
          if (error && error !== w.relayError) say(`${w.name}'s relay from ${from} ended (${error}); resubscribing`);
          w.relayError = error;
        } catch (err) {
          say(`! ${w.name} watched: ${describeError(err)}`);
        }
      }));
      const lines = workers.map((w) => {
        const line =
          `${w.name.padEnd(9)} ${w.transport.padEnd(10)} ` +
          `stream ${formatRate((w.received - w.lastReceived) / dt).padStart(7)}/s (${formatRate(w.received).padStart(7)} in all)  ` +
          `ask ${formatUs(median(w.pings)).padStart(6)} µs  ` +
          `via hub from ${w.relayFrom || '?'} ${formatRate(Math.max(0, w.relayed - w.lastRelayed) / dt).padStart(7)}/s`;
        w.lastReceived = w.received;
        w.lastRelayed = w.relayed;
        return line;
      });
      const elapsed = `${((now - t0) / 1000).toFixed(0)}/${seconds} s`;
      if (tty) {
        // Cut to the terminal's width: a wrapped line would break the redraw in place (the
        // table holds numbers only; every message is a line of its own above it).
        const fit = (l: string): string => l.slice(0, Math.max(20, (process.stdout.columns || 200) - 1));
        if (tableLines) process.stdout.write(`\x1b[${tableLines}A`);
        process.stdout.write(`\x1b[2K${elapsed}  (Ctrl-C stops)\n${lines.map((l) => `\x1b[2K${fit(l)}\n`).join('')}`);
        tableLines = lines.length + 1;
      } else {
        process.stdout.write(`${elapsed}\n${lines.map((l) => `  ${l}\n`).join('')}`);
      }
    };
    let drawing = Promise.resolve();
    timers.push(setInterval(() => (drawing = drawing.then(draw)), 1000));
    const timeUp = new Promise<void>((r) => timers.push(setTimeout(r, seconds * 1000)));
    await Promise.race([timeUp, stopRequested]);
    for (const t of timers) clearInterval(t);
    await drawing;
    if (!interrupted) await draw();
    return interrupted ? 128 + (osConstants.signals[interrupted] ?? 0) : 0;
  } finally {
    for (const t of timers) clearInterval(t);
    for (const w of workers) w.subscription?.unsubscribe();
    tableLines = 0;
    await system.stop(); // drains and stops every worker (SIGTERM, then SIGKILL), reaps it, removes its files
    stopHearing();
    const how = interrupted ? `interrupted by ${interrupted}` : 'done';
    const which = pids.size ? ` (pids ${[...pids].join(', ')})` : '';
    process.stdout.write(`switchyard demo: ${how}; ${workers.length} worker(s) stopped${which}\n`);
  }
}
