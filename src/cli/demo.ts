/**
 * demo.ts: `switchyard demo [--seconds N] [--rate N]`: switchyard working, live, in the
 * terminal. This process is the hub: an ActorSystem listening on a Unix socket and on TCP.
 * It starts three worker processes (demo/worker.ts) linked three ways: over a socketpair it
 * hands the first one, over the Unix socket, over TCP. Then:
 *   - it subscribes to every worker's `values` stream and counts values per second;
 *   - it asks every worker `ping` every 100 ms and shows the round trip;
 *   - it hands each worker a ref to the next one, and each worker streams its neighbour's
 *     values through the hub (worker to worker, routed by the bus).
 * One line per worker, redrawn in place on a terminal (a line per worker per second
 * otherwise). After N seconds (default 10), or on Ctrl-C/SIGTERM, it stops: unsubscribes,
 * says goodbye (the workers exit), waits for every worker to exit, removes the socket file
 * and its temp dir. Exit 0 when the time ran out, 128 + n after a signal.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { ActorSystem, spawnWithLink, type ActorRef, type RemoteSystem } from '../index.js';
import { exitOf, spawnPeer, unlessExits } from './child-process.js';
import { formatRate, formatUs } from './format.js';
import { describeError } from './cli-error.js';
import { parseCommandArgs, wholeNumber } from './command-args.js';
import { UsageError } from './usage-error.js';
import { WORKER_ACTOR, type demoWorker } from './demo/worker-actor.js';

export const DEMO_USAGE = `usage: switchyard demo [--seconds N] [--rate N]

Starts three worker processes linked to this one (the hub) over a socketpair, a Unix socket
and TCP; streams values from every worker, and from each worker to the next through the hub,
and shows live rates and ask round trips. Stops by itself after N seconds, or on Ctrl-C,
and leaves no process or file behind.

  --seconds N   how long to run (default 10)
  --rate N      values per second each worker streams (default 5000)
`;

const WORKER = fileURLToPath(new URL('./demo/worker.js', import.meta.url));
const PING_MS = 100;

interface Worker {
  name: string;
  transport: string;
  child: ChildProcess;
  remote: RemoteSystem;
  ref: ActorRef<typeof demoWorker>;
  /** Values received from this worker's stream, total and at the last redraw. */
  received: number;
  lastReceived: number;
  /** The neighbour's values this worker received, through the hub, at the last two redraws. */
  relayed: number;
  lastRelayed: number;
  relayFrom: string;
  /** Recent ping round trips, µs. */
  pings: number[];
  subscription?: Subscription;
  error?: string;
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
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  const system = await ActorSystem.start({
    name: 'hub',
    onError: (err, context) => process.stderr.write(`switchyard demo: ${context}: ${describeError(err)}\n`),
  });
  const workers: Worker[] = [];
  const children: ChildProcess[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const unix = await system.listen(`unix://${dir}/hub.sock`);
    const tcp = await system.listen('tcp://127.0.0.1:0');
    const arrived = new Map<string, (r: RemoteSystem) => void>();
    const sub = system.connections$.subscribe((remote) => arrived.get(remote.node)?.(remote));
    const waitFor = (name: string): Promise<RemoteSystem> => new Promise((resolve) => arrived.set(name, resolve));

    const plan: Array<[string, string, () => Promise<[ChildProcess, RemoteSystem]>]> = [
      // unlessExits: a worker that dies while starting is reported, not waited for forever
      ['worker-1', 'socketpair', async () => {
        const { link, child } = await spawnWithLink('socketpair', WORKER, { args: ['worker-1', 'inherit'] });
        children.push(child);
        return [child, await unlessExits(child, system.attach(link), 'worker-1')];
      }],
      ['worker-2', 'unix', async () => {
        const remote = waitFor('worker-2');
        const child = spawnPeer(WORKER, ['worker-2', unix.address]);
        children.push(child);
        return [child, await unlessExits(child, remote, 'worker-2')];
      }],
      ['worker-3', 'tcp', async () => {
        const remote = waitFor('worker-3');
        const child = spawnPeer(WORKER, ['worker-3', tcp.address]);
        children.push(child);
        return [child, await unlessExits(child, remote, 'worker-3')];
      }],
    ];
    process.stdout.write(`switchyard demo: hub (pid ${process.pid}) listening on ${unix.address} and ${tcp.address}\n`);
    const started = await Promise.race([
      Promise.all(plan.map(async ([name, transport, start]) => ({ name, transport, pair: await start() }))),
      stopRequested.then(() => undefined),
    ]);
    sub.unsubscribe();
    if (!started) return 128 + (osConstants.signals[interrupted!] ?? 0);
    for (const { name, transport, pair: [child, remote] } of started) {
      workers.push({
        name, transport, child, remote, ref: remote.ref<typeof demoWorker>(WORKER_ACTOR),
        received: 0, lastReceived: 0, relayed: 0, lastRelayed: 0, relayFrom: '', pings: [],
      });
      process.stdout.write(`switchyard demo: ${name} (pid ${child.pid}) linked over ${transport}\n`);
    }

    for (const [i, w] of workers.entries()) {
      w.subscription = w.ref.stream('values', rate).subscribe({
        next: () => w.received++,
        error: (err: unknown) => (w.error = describeError(err)),
      });
      // Worker i watches worker i+1: its subscription travels worker -> hub -> worker.
      const next = workers[(i + 1) % workers.length]!;
      w.ref.tell('watch', next.ref, rate);
    }
    timers.push(setInterval(() => {
      for (const w of workers) {
        const t0 = performance.now();
        w.ref.with({ timeout: 2000 }).ask('ping').then(
          () => {
            w.pings.push((performance.now() - t0) * 1000);
            if (w.pings.length > 20) w.pings.shift();
          },
          (err: unknown) => (w.error = describeError(err)),
        );
      }
    }, PING_MS));

    const t0 = Date.now();
    let lastDraw = t0;
    let drawn = 0;
    const draw = async (): Promise<void> => {
      const now = Date.now();
      const dt = Math.max(1, now - lastDraw) / 1000;
      lastDraw = now;
      await Promise.all(workers.map(async (w) => {
        try {
          const { from, count } = await w.ref.with({ timeout: 1000 }).ask('watched');
          w.relayFrom = from;
          w.relayed = count;
        } catch (err) {
          w.error = describeError(err);
        }
      }));
      const lines = workers.map((w) => {
        const line =
          `${w.name.padEnd(9)} ${w.transport.padEnd(10)} ` +
          `stream ${formatRate((w.received - w.lastReceived) / dt).padStart(7)}/s (${formatRate(w.received).padStart(7)} in all)  ` +
          `ask ${formatUs(median(w.pings)).padStart(6)} µs  ` +
          `via hub from ${w.relayFrom || '?'} ${formatRate((w.relayed - w.lastRelayed) / dt).padStart(7)}/s` +
          (w.error ? `  ! ${w.error}` : '');
        w.lastReceived = w.received;
        w.lastRelayed = w.relayed;
        return line;
      });
      const elapsed = `${((now - t0) / 1000).toFixed(0)}/${seconds} s`;
      if (tty) {
        // Cut to the terminal's width: a wrapped line would break the redraw in place.
        const fit = (l: string): string => l.slice(0, Math.max(20, (process.stdout.columns || 200) - 1));
        if (drawn) process.stdout.write(`\x1b[${lines.length + 1}A`);
        process.stdout.write(`\x1b[2K${elapsed}  (Ctrl-C stops)\n${lines.map((l) => `\x1b[2K${fit(l)}\n`).join('')}`);
      } else {
        process.stdout.write(`${elapsed}\n${lines.map((l) => `  ${l}\n`).join('')}`);
      }
      drawn++;
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
    await system.stop(); // goodbye to every worker; the listeners remove the socket file
    await Promise.all(children.map((c) => exitOf(c, 1000)));
    rmdirSync(dir);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const how = interrupted ? `interrupted by ${interrupted}` : 'done';
    process.stdout.write(`switchyard demo: ${how}; ${children.length} worker(s) stopped, ${dir} removed\n`);
  }
}
