/**
 * udp.test.ts: what udp promises instead of reliability: every frame either arrives intact or
 * is counted in `link.stats.lost`, exactly; loss is forced here (a tiny receive buffer, a
 * large window and a stalled receiver) and checked against the sender's own count and
 * per-frame SHA-256. Also: credit backs a sender up against a paused reader, and a client
 * finds a dead listener fast (ICMP port unreachable, or silence).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { withTimeout } from '../setup/timing.js';

const BURST = fileURLToPath(new URL('../fixtures/udp-burst.js', import.meta.url));
const HOLDER = fileURLToPath(new URL('../fixtures/holder.js', import.meta.url));

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Tally {
  /** Frames this side sent: "go" and each "fin". */
  sent: number;
  delivered: number;
  data: Set<number>;
  corrupt: string[];
  total: number | undefined;
}

/** Runs one burst from a child sender to a listener here; `stallMs` freezes this process right after "go". */
async function burst(listenAddress: string, frames: number, stallMs: number): Promise<{ link: Link; tally: Tally }> {
  let accepted!: (l: Link) => void;
  const got = new Promise<Link>((r) => (accepted = r));
  const listener: Listener = await listen(listenAddress, (l) => accepted(l));
  const child = spawn(process.execPath, [BURST, listener.address.href, String(frames)], { stdio: 'inherit' });
  try {
    const link = await withTimeout(got, 10_000, 'the sender connects');
    const tally: Tally = { sent: 0, delivered: 0, data: new Set(), corrupt: [], total: undefined };
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    link.onFrame((f) => {
      tally.delivered++;
      const b = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
      const text = b.length < 16 ? b.toString() : '';
      if (text === 'ready') return ready();
      if (text.startsWith('end:')) return void (tally.total = Number(text.slice(4)));
      const i = b.readUInt32BE(0);
      const len = b.readUInt32BE(4);
      const payload = b.subarray(40);
      if (payload.length !== len || !createHash('sha256').update(payload).digest().equals(b.subarray(8, 40))) tally.corrupt.push(`frame ${i}`);
      if (tally.data.has(i)) tally.corrupt.push(`frame ${i} delivered twice`);
      tally.data.add(i);
    });
    await withTimeout(isReady, 5_000, 'ready');
    link.send(Buffer.from('go'));
    tally.sent++;
    if (stallMs > 0) {
      const until = Date.now() + stallMs;
      while (Date.now() < until) {} // a stalled receiver: its socket buffer overflows
    }
    // Ask for the sender's count until it arrives; then wait for every frame before it to be
    // delivered or given up on (incomplete frames expire after 2 s).
    await withTimeout(
      (async () => {
        while (tally.total === undefined) {
          link.send(Buffer.from('fin'));
          tally.sent++;
          await sleep(1000);
        }
        while (link.stats!.received + link.stats!.lost < tally.total) await sleep(50);
      })(),
      20_000,
      'every frame delivered or counted lost',
    );
    await link.close();
    return { link, tally };
  } finally {
    await listener.close();
    if (child.exitCode === null) child.kill('SIGKILL');
    await exitOf(child);
  }
}

describe('udp transport: loss accounting', function () {
  it('counts exactly the frames a stalled receiver missed, and delivers no corrupt frame', async function () {
    // A receive buffer of a few KiB, yet credit for 4096 datagrams: the burst overflows it.
    const { link, tally } = await burst('udp://127.0.0.1:0?rcvbuf=4096&window=4096', 300, 300);
    const stats = link.stats!;
    expect(tally.corrupt).to.deep.equal([]);
    expect(stats.lost, 'frames lost (the test must force some)').to.be.above(0);
    expect(stats.received, 'stats.received = frames delivered').to.equal(tally.delivered);
    expect(stats.lost, 'stats.lost = frames sent - frames delivered').to.equal(tally.total! - tally.delivered);
    expect(stats.expired, 'expired is a part of lost').to.be.at.most(stats.lost);
    expect(stats.sent).to.equal(tally.sent);
  });

  it('under credit on loopback, received + lost equals sent and every delivered frame is intact', async function () {
    const { link, tally } = await burst('udp://127.0.0.1:0', 600, 0);
    const stats = link.stats!;
    expect(tally.corrupt).to.deep.equal([]);
    expect(stats.received).to.equal(tally.delivered);
    expect(stats.received + stats.lost).to.equal(tally.total);
    if (stats.lost > 0) console.warn(`      (udp lost ${stats.lost} of ${tally.total} frames on loopback under credit)`);
  });
});

describe('udp transport: flow control and peer death', function () {
  it('credit backs the sender up against a paused reader; resume() lets it drain', async function () {
    let accepted!: (l: Link) => void;
    const got = new Promise<Link>((r) => (accepted = r));
    const listener = await listen('udp://127.0.0.1:0', (l) => accepted(l));
    const client = await connect(listener.address, { highWaterMark: 256 * 1024 });
    const server = await got;
    try {
      server.pause();
      let received = 0;
      server.onFrame(() => received++);
      const frame = Buffer.alloc(64 * 1024, 5);
      let n = 0;
      while (client.send(frame)) n++;
      n++;
      for (let i = 0; i < 64; i++, n++) client.send(frame); // 4 MiB more than the window
      const drained = client.drain();
      const early = await Promise.race([drained.then(() => true), sleep(300).then(() => false)]);
      expect(early, 'drain() waits while the reader is paused').to.equal(false);
      expect(received).to.equal(0);
      server.resume();
      await withTimeout(drained, 10_000, 'drain after resume');
      await withTimeout((async () => { while (received + server.stats!.lost < n) await sleep(10); })(), 10_000, 'all frames');
      expect(received + server.stats!.lost).to.equal(n);
    } finally {
      await client.close();
      await server.close();
      await listener.close();
    }
  });

  it('a client sees peer-gone within 1 s when the listener is SIGKILLed', async function () {
    // A free port for the holder to listen on.
    const probe = await listen('udp://127.0.0.1:0', () => {});
    const port = Number(probe.address.port);
    await probe.close();
    const holder = spawn(process.execPath, [HOLDER, `udp://127.0.0.1:${port}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await withTimeout(new Promise<void>((r) => holder.stdout!.on('data', (s: Buffer) => s.toString().includes('listening') && r())), 10_000, 'holder listening');
      const link = await connect(`udp://127.0.0.1:${port}`);
      const back = new Promise<void>((r) => link.onFrame(() => r()));
      link.send(Buffer.from('x'));
      await withTimeout(back, 5_000, 'echo');
      const t0 = performance.now();
      holder.kill('SIGKILL');
      const reason = await withTimeout(link.closed, 1_000, 'peer-gone');
      expect(reason.kind).to.equal('peer-gone');
      expect(performance.now() - t0).to.be.below(1_000);
      await link.close();
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      await exitOf(holder);
    }
  });
});
