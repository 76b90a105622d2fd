/**
 * link-bench.ts: measures one transport at one message size at the Link level, between this
 * process and a child (bench/peer.ts): round-trip latency (percentiles over many ping-pongs
 * after a warm-up) and one-way throughput (frames for a bounded time, then the receiver
 * confirms the count, so nothing is counted that did not arrive).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getTransport, listen, spawnWithLink, type Link, type Listener } from '../index.js';
import { makeTempDirSync, removeTempDir } from './tmp.js';
import { ECHO, SINK } from './wire.js';

const PEER = fileURLToPath(new URL('./peer.js', import.meta.url));

export interface LinkBenchResult {
  name: string;
  kind: 'transport';
  level: 'link';
  size: number;
  rtt: { p50Us: number; p99Us: number; p999Us: number };
  throughput: { msgsPerSec: number; mbPerSec: number };
  /** shm only: the round trip again in spin mode (the receiver polls; costs a core per side). */
  spin?: { spinUs: number; rtt: { p50Us: number; p99Us: number; p999Us: number } };
}

/** The spin window `switchyard bench` uses for shm's spin-mode round trips. */
export const BENCH_SHM_SPIN_US = 50;

export interface LinkBenchOptions {
  roundTrips: number;
  warmup: number;
  throughputMs: number;
}

/** A fresh listen address for an addressed transport, inside `dir`. */
function listenAddress(scheme: string, dir: string): string {
  switch (scheme) {
    case 'tcp':
      return 'tcp://127.0.0.1:0';
    case 'unix':
      return `unix://${dir}/bench.sock`;
    case 'fifo':
      return `fifo://${dir}/bench`;
    default:
      return `${scheme}://${dir}/bench`;
  }
}

interface Session {
  link: Link;
  child: ChildProcess;
  close(): Promise<void>;
}

function nextFrame(link: Link): Promise<Buffer> {
  return new Promise((resolve) => link.onFrame((f) => resolve(Buffer.from(f))));
}

async function open(scheme: string, linkOptions: Record<string, number> = {}): Promise<Session> {
  const transport = getTransport(scheme);
  let link: Link;
  let child: ChildProcess;
  let listener: Listener | undefined;
  let dir: string | undefined;
  if (transport.pair) {
    ({ link, child } = await spawnWithLink(scheme, PEER, { args: ['inherit'], ...linkOptions }));
  } else {
    dir = makeTempDirSync();
    let accepted!: (l: Link) => void;
    const got = new Promise<Link>((r) => (accepted = r));
    listener = await listen(listenAddress(scheme, dir), (l) => accepted(l));
    child = spawn(process.execPath, [PEER, listener.address.href], { stdio: 'inherit' });
    link = await got;
  }
  const ready = await nextFrame(link);
  if (ready.toString() !== 'ready') throw new Error(`bench peer said ${ready.toString()}`);
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return {
    link,
    child,
    async close() {
      await link.close();
      await listener?.close();
      await exited;
      if (dir) removeTempDir(dir);
    },
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function roundTrips(link: Link, size: number, n: number): Promise<Float64Array> {
  const frame = Buffer.alloc(Math.max(1, size), 0xab);
  frame[0] = ECHO;
  const times = new Float64Array(n);
  let i = 0;
  let t0 = 0;
  await new Promise<void>((resolve) => {
    link.onFrame(() => {
      times[i++] = Number(process.hrtime.bigint() - BigInt(t0)) / 1000;
      if (i === n) return resolve();
      t0 = Number(process.hrtime.bigint());
      link.send(frame);
    });
    t0 = Number(process.hrtime.bigint());
    link.send(frame);
  });
  return times.sort();
}

async function throughput(link: Link, size: number, ms: number): Promise<{ frames: number; seconds: number }> {
  const frame = Buffer.alloc(Math.max(1, size), 0xcd);
  frame[0] = SINK;
  let sent = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    // Send a batch per turn: the link writes one tick's frames with one syscall.
    for (let k = 0; k < 256; k++) {
      sent++;
      if (!link.send(frame)) break;
    }
    if (link.bufferedAmount > 0) await link.drain();
    else await new Promise((r) => setImmediate(r));
  }
  const report = nextFrame(link);
  link.send(Buffer.alloc(0));
  const { frames } = JSON.parse((await report).toString()) as { frames: number };
  const seconds = (performance.now() - start) / 1000;
  if (frames !== sent) throw new Error(`bench: sent ${sent} frames but the receiver counted ${frames}`);
  return { frames, seconds };
}

/** Runs one cell of the matrix. */
export async function benchLink(scheme: string, size: number, options: LinkBenchOptions): Promise<LinkBenchResult> {
  const session = await open(scheme);
  try {
    await roundTrips(session.link, size, options.warmup);
    const times = await roundTrips(session.link, size, options.roundTrips);
    const { frames, seconds } = await throughput(session.link, size, options.throughputMs);
    let spin: LinkBenchResult['spin'];
    if (scheme === 'shm') {
      const spinning = await open(scheme, { spinUs: BENCH_SHM_SPIN_US });
      try {
        await roundTrips(spinning.link, size, options.warmup);
        const t = await roundTrips(spinning.link, size, options.roundTrips);
        spin = { spinUs: BENCH_SHM_SPIN_US, rtt: { p50Us: percentile(t, 0.5), p99Us: percentile(t, 0.99), p999Us: percentile(t, 0.999) } };
      } finally {
        await spinning.close();
      }
    }
    return {
      ...(spin ? { spin } : {}),
      name: scheme,
      kind: 'transport',
      level: 'link',
      size,
      rtt: { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99), p999Us: percentile(times, 0.999) },
      throughput: { msgsPerSec: frames / seconds, mbPerSec: (frames * size) / seconds / 1e6 },
    };
  } finally {
    await session.close();
  }
}
