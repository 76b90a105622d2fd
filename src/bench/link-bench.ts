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
  /** Best-effort transports: frames sent in the throughput run that never arrived (counted by the receiver). */
  lost?: number;
}

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
    case 'udp':
      return 'udp://127.0.0.1:0';
    case 'msgq':
      return 'msgq://0';
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

async function open(scheme: string): Promise<Session> {
  const transport = getTransport(scheme);
  let link: Link;
  let child: ChildProcess;
  let listener: Listener | undefined;
  let dir: string | undefined;
  if (transport.pair) {
    ({ link, child } = await spawnWithLink(scheme, PEER, { args: ['inherit'] }));
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
  const frame = Buffer.alloc(Math.max(5, size), 0xab);
  frame[0] = ECHO;
  const times = new Float64Array(n);
  let i = 0;
  let t0 = 0;
  // On a best-effort link a ping or its echo can be lost: after 200 ms without an answer the
  // round trip is dropped from the sample (and counted) and a new one starts. A late echo of
  // a dropped ping carries an older number and is ignored, so it never shortens a sample.
  let lost = 0;
  let id = 0;
  let timer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    const ping = (): void => {
      id = (id + 1) >>> 0;
      frame.writeUInt32BE(id, 1);
      t0 = Number(process.hrtime.bigint());
      link.send(frame);
      if (!link.capabilities.reliable) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          lost++;
          ping();
        }, 200);
      }
    };
    link.onFrame((f) => {
      if (f.byteLength >= 5 && Buffer.from(f.buffer, f.byteOffset, f.byteLength).readUInt32BE(1) !== id) return;
      times[i++] = Number(process.hrtime.bigint() - BigInt(t0)) / 1000;
      if (i === n) {
        clearTimeout(timer);
        return resolve();
      }
      ping();
    });
    ping();
  });
  if (lost > 0) process.stderr.write(`  (${lost} round trips lost and re-sent)\n`);
  return times.sort();
}

async function throughput(link: Link, size: number, ms: number): Promise<{ frames: number; seconds: number; lost: number }> {
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
  // A reliable link must deliver everything; a best-effort one reports what it lost, and
  // only what arrived counts towards throughput.
  if (frames !== sent && link.capabilities.reliable) throw new Error(`bench: sent ${sent} frames but the receiver counted ${frames}`);
  return { frames, seconds, lost: sent - frames };
}

/** Runs one cell of the matrix. */
export async function benchLink(scheme: string, size: number, options: LinkBenchOptions): Promise<LinkBenchResult> {
  const session = await open(scheme);
  try {
    await roundTrips(session.link, size, options.warmup);
    const times = await roundTrips(session.link, size, options.roundTrips);
    const { frames, seconds, lost } = await throughput(session.link, size, options.throughputMs);
    if (!session.link.capabilities.reliable) {
      // The CLI's table has no loss column; say it here, next to the cell's progress line.
      process.stderr.write(`  ${scheme} ${size} B: ${lost} of ${frames + lost} frames lost in the throughput run (best-effort; counted by the receiver)\n`);
    }
    return {
      name: scheme,
      kind: 'transport',
      level: 'link',
      size,
      rtt: { p50Us: percentile(times, 0.5), p99Us: percentile(times, 0.99), p999Us: percentile(times, 0.999) },
      throughput: { msgsPerSec: frames / seconds, mbPerSec: (frames * size) / seconds / 1e6 },
      ...(session.link.capabilities.reliable ? {} : { lost }),
    };
  } finally {
    await session.close();
  }
}
