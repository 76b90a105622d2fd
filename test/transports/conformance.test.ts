/**
 * conformance.test.ts: one suite, run for every registered transport, between this process
 * and a real child process (test/fixtures/peer.ts). A new transport gets every case here by
 * registering itself; nothing in this file names a transport except the bad-address table.
 */
import { expect } from 'chai';
import { randomFillSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import {
  connect,
  FrameTooLargeError,
  listTransports,
  TransportError,
  type CloseReason,
  type Link,
} from '../../src/index.js';
import { hasPrivateAddress } from '../../src/transports/core/private-address.js';
import { Fixture, nextFrame, type Peer } from './harness.js';
import { sendAll, sequencedFrames } from '../setup/frames.js';
import { thrown } from '../setup/outcomes.js';
import { withTimeout } from '../setup/timing.js';

/** Addresses that must fail with a TransportError, per scheme (at least one each). */
const BAD_ADDRESSES: Record<string, (dir: string) => string[]> = {
  pipe: () => ['pipe:', 'pipe:?fds=3', 'pipe:?fds=900,901'],
  socketpair: () => ['socketpair:', 'socketpair:?fds=x', 'socketpair:?fds=900'],
  fifo: (dir) => [`fifo://${dir}/nobody-here`, 'fifo://somehost/x', 'fifo:relative'],
  unix: (dir) => [`unix://${dir}/nobody-here.sock`, 'unix://', `unix://${dir}/${'x'.repeat(120)}.sock`],
  tcp: () => ['tcp://127.0.0.1', 'tcp://127.0.0.1:0', 'tcp://256.1.1.1:80'],
  // 0x7ffffffe: a key no listener in the suite uses (listeners pick random keys below it).
  udp: () => ['udp://127.0.0.1', 'udp://127.0.0.1:0', 'udp://256.1.1.1:80', 'udp://127.0.0.1:9?heartbeat=x'],
  msgq: () => ['msgq://0x7ffffffe', 'msgq://0', 'msgq://not-a-key', 'msgq://0x80000000', 'msgq://12/path'],
  // 127.0.0.1:1: no server there; the shared test server (SWITCHYARD_NATS_URL) has nobody under that name.
  nats: () => ['nats://127.0.0.1:1/app/x', 'nats://127.0.0.1:0/app/x', 'nats://127.0.0.1:4222', 'nats://127.0.0.1:4222/a.b/x', 'nats://u:p@127.0.0.1:4222/app/x', `${process.env.SWITCHYARD_NATS_URL ?? 'nats://127.0.0.1:4222'}/switchyard/nobody-here`],
  shm: () => ['shm:', 'shm:?fds=x', 'shm:?fds=900,901', 'shm:?fds=0,1', 'shm://nobody-here-a8c1f2', 'shm://bad%2Fname'],
};

const KiB = 1024;
const MiB = 1024 * KiB;

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** SysV message queues on this machine (msgq: makes a queue, and no fd). */
function queueCount(): number {
  try {
    return readFileSync('/proc/sysvipc/msg', 'utf8').trim().split('\n').length - 1;
  } catch {
    return 0;
  }
}


/** Sends `frames` on `link`, respecting backpressure. */
function randomFrame(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  // randomFillSync takes at most 2^31-1 bytes per call; our frames are smaller.
  if (size > 0) randomFillSync(b);
  return b;
}

/**
 * Every transport, and a second run for one that is both a pair and addressed (shm://name).
 * nats runs twice: through the broker (`?upgrade=0`), and as its peer (a child process of
 * this host) gets it by default, moved to a local socket soon after the handshake, so the
 * upgrading link is held to the same contract.
 */
const variants = listTransports().flatMap((t) => [
  { transport: t, named: false, query: t.scheme === 'nats' ? '?upgrade=0' : '', label: '' },
  ...(t.pair && hasPrivateAddress(t.scheme) ? [{ transport: t, named: true, query: '', label: ' (named)' }] : []),
  ...(t.scheme === 'nats' ? [{ transport: t, named: false, query: '', label: ' (same host: upgraded to a local socket)' }] : []),
]);

for (const { transport, named, query, label } of variants) {
  describe(`transport conformance: ${transport.scheme}${label}`, function () {
    let fx: Fixture;
    /**
     * Cases whose point is that nothing is lost: a best-effort transport (udp, nats) cannot
     * promise that, so they are not generated for it; test/transports/udp*.test.ts and
     * nats*.test.ts check its loss accounting instead.
     */
    const itReliable = (title: string, fn: Mocha.AsyncFunc): void => {
      if (transport.capabilities.reliable) it(title, fn);
    };

    beforeEach(async function () {
      fx = new Fixture(transport, named, query);
    });

    afterEach(async function () {
      await fx.stop();
    });

    it('returns frames of 0 B, 1 B, 64 B, 1 KiB, 64 KiB, 1 MiB and 16 MiB byte-exact', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      for (const size of [0, 1, 64, KiB, 64 * KiB, MiB, 16 * MiB]) {
        const sent = randomFrame(size);
        const back = nextFrame(link, 20_000);
        link.send(sent);
        const got = await back;
        expect(got.length, `size ${size}`).to.equal(size);
        expect(got.equals(sent), `bytes of the ${size} B frame`).to.equal(true);
      }
      await link.close();
    });

    itReliable('delivers 100,000 frames in order, none lost or duplicated', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      const N = 100_000;
      let next = 0;
      let bad: string | undefined;
      const done = new Promise<void>((resolve) =>
        link.onFrame((f) => {
          const seq = Buffer.from(f.buffer, f.byteOffset, f.byteLength).readUInt32BE(0);
          if (seq !== next && bad === undefined) bad = `expected frame ${next}, got ${seq}`;
          if (++next === N) resolve();
        }),
      );
      await sendAll(link, sequencedFrames(N));
      await withTimeout(done, 30_000, 'all echoes');
      expect(bad).to.equal(undefined);
      expect(next).to.equal(N);
      await link.close();
    });

    itReliable('applies backpressure against a paused reader and drains once it resumes', async function () {
      const highWaterMark = 512 * KiB;
      await fx.start({ highWaterMark });
      const { link, child } = await fx.open('paused');
      const frame = randomFrame(256 * KiB);
      let sent = 0;
      let maxBuffered = 0;
      let sawFalse = false;
      let blocked = false;
      // Fill the local queue and every kernel buffer until drain() stops resolving.
      while (sent * frame.length < 512 * MiB) {
        while (link.send(frame)) {
          sent++;
          maxBuffered = Math.max(maxBuffered, link.bufferedAmount);
        }
        sent++;
        sawFalse = true;
        maxBuffered = Math.max(maxBuffered, link.bufferedAmount);
        const drained = await Promise.race([link.drain().then(() => true), new Promise((r) => setTimeout(() => r(false), 300))]);
        if (!drained) {
          blocked = true;
          break;
        }
      }
      expect(sawFalse, 'send() returned false').to.equal(true);
      expect(blocked, 'drain() stayed pending while the reader was paused').to.equal(true);
      expect(maxBuffered, 'bytes queued in the sender').to.be.at.most(highWaterMark + frame.length);
      const drained = link.drain();
      child.kill('SIGUSR1');
      await withTimeout(drained, 10_000, 'drain() after the reader resumed');
      const count = nextFrame(link, 30_000);
      link.send(Buffer.alloc(0));
      const report = JSON.parse((await count).toString()) as { frames: number; bytes: number };
      expect(report).to.deep.equal({ frames: sent, bytes: sent * frame.length });
      await link.close();
    });

    it('closes the link with FrameTooLargeError on an oversize frame from the peer; a new link works', async function () {
      const maxFrame = 64 * KiB;
      await fx.start({ maxFrame });
      const bad = await fx.open('oversize', 128 * KiB);
      bad.link.onFrame(() => {});
      bad.link.send(Buffer.from('go'));
      const reason = await withTimeout(bad.link.closed, 5_000, 'close after the oversize frame');
      expect(reason.kind).to.equal('protocol-error');
      expect(reason.error).to.be.instanceOf(FrameTooLargeError);
      expect((reason.error as FrameTooLargeError).code).to.equal('ERR_FRAME_TOO_LARGE');
      expect((reason.error as FrameTooLargeError).size).to.equal(128 * KiB);
      expect(() => bad.link.send(Buffer.from('x'))).to.throw(TransportError);
      await bad.exited;

      const good = await fx.open('echo');
      const back = nextFrame(good.link);
      good.link.send(Buffer.from('still here'));
      expect((await back).toString()).to.equal('still here');
      expect(() => good.link.send(Buffer.alloc(maxFrame + 1))).to.throw(FrameTooLargeError);
      await good.link.close();
    });

    it('reports peer-gone within 1 s when the child is SIGKILLed mid-stream', async function () {
      await fx.start();
      const { link, child } = await fx.open('flood');
      let received = 0;
      const flowing = new Promise<void>((resolve) =>
        link.onFrame((f) => {
          received += f.byteLength;
          if (received >= 4 * MiB) resolve();
        }),
      );
      link.send(Buffer.from('go'));
      await withTimeout(flowing, 10_000, '4 MiB from the flooding peer');
      // Keep writing while it dies: EPIPE must surface as peer-gone, never SIGPIPE.
      let writing = true;
      const writer = (async () => {
        const f = Buffer.alloc(32 * KiB);
        while (writing) {
          try {
            if (!link.send(f)) await link.drain();
          } catch {
            return;
          }
          await new Promise((r) => setImmediate(r));
        }
      })();
      const t0 = performance.now();
      child.kill('SIGKILL');
      const reason: CloseReason = await withTimeout(link.closed, 1_000, 'closed after SIGKILL');
      const elapsed = performance.now() - t0;
      writing = false;
      await writer;
      expect(reason.kind).to.equal('peer-gone');
      expect(elapsed).to.be.below(1_000);
      // every transport, the same contract: a TransportError that says the link is closed
      expect(() => link.send(Buffer.from('x'))).to.throw(TransportError).with.property('code', 'ERR_LINK_CLOSED');
      await link.close(); // closing a closed link is harmless
    });

    it('delivers frames that arrived before EOF once a paused reader resumes', async function () {
      await fx.start();
      const { link } = await fx.open('burst');
      const got: string[] = [];
      link.onFrame((f) => {
        got.push(Buffer.from(f).toString());
        if (got.length === 1) {
          link.pause();
          setTimeout(() => link.resume(), 300);
        }
      });
      link.send(Buffer.from('go'));
      const reason = await withTimeout(link.closed, 5_000, 'peer-gone after the burst');
      expect(got).to.deep.equal(['f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7', 'f8', 'f9']);
      expect(reason.kind).to.equal('peer-gone');
    });

    it('starts reading when pause() and resume() both came before onFrame()', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      link.pause();
      link.resume();
      const back = nextFrame(link);
      link.send(Buffer.from('after pause+resume'));
      expect((await back).toString()).to.equal('after pause+resume');
      await link.close();
    });

    itReliable('close() delivers everything sent before it, even while the peer is still sending', async function () {
      await fx.start();
      const peer = await fx.open('chatty', undefined, true);
      let incoming = 0;
      const flowing = new Promise<void>((resolve) =>
        peer.link.onFrame(() => {
          if (++incoming === 8) resolve();
        }),
      );
      peer.link.send(Buffer.from('go'));
      await withTimeout(flowing, 10_000, 'the peer flooding back');
      const N = 200;
      const frame = Buffer.alloc(16 * KiB, 9);
      for (let i = 0; i < N; i++) peer.link.send(frame); // queued; close() must flush them
      await peer.link.close();
      expect((await peer.link.closed).kind).to.equal('closed');
      const report = JSON.parse(await withTimeout(peer.stdout, 10_000, "the peer's report")) as { frames: number; bytes: number };
      expect(report).to.deep.equal({ frames: N, bytes: N * frame.length });
    });

    it('releases every fd, file and message queue it made on close()', async function () {
      const before = fdCount();
      const queuesBefore = queueCount();
      const entriesBefore = readdirSync(fx.dir);
      await fx.start();
      const { link, exited } = await fx.open('echo');
      const back = nextFrame(link);
      link.send(Buffer.from('ping'));
      expect((await back).toString()).to.equal('ping');
      // Each on its own: a sum lets one object made elsewhere on the machine (a queue another
      // process removed) cancel ours out.
      expect(fdCount() > before || queueCount() > queuesBefore, `fds (${fdCount()} vs ${before}) or queues (${queueCount()} vs ${queuesBefore}) while open`).to.equal(true);
      await link.close();
      expect((await link.closed).kind).to.equal('closed');
      expect(() => link.send(Buffer.from('x'))).to.throw(TransportError).with.property('code', 'ERR_LINK_CLOSED');
      await fx.stop();
      await exited;
      await new Promise((r) => setImmediate(r));
      expect(fdCount(), 'open fds after close').to.equal(before);
      expect(queueCount(), 'message queues after close').to.equal(queuesBefore);
      expect(readdirSync(fx.dir), `files left in ${fx.dir}`).to.deep.equal(entriesBefore);
    });

    itReliable('keeps two simultaneous links apart', async function () {
      await fx.start();
      const a = await fx.open('echo');
      const b = await fx.open('echo');
      const N = 2_000;
      const check = (peer: Peer, tag: number): Promise<string | undefined> =>
        new Promise((resolve) => {
          let next = 0;
          peer.link.onFrame((f) => {
            const buf = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
            if (buf[0] !== tag || buf.readUInt32BE(1) !== next) resolve(`link ${tag}: got tag ${buf[0]} seq ${buf.readUInt32BE(1)}, expected seq ${next}`);
            if (++next === N) resolve(undefined);
          });
        });
      const okA = check(a, 0xaa);
      const okB = check(b, 0xbb);
      for (let i = 0; i < N; i++) {
        for (const [peer, tag] of [[a, 0xaa], [b, 0xbb]] as const) {
          const f = Buffer.alloc(5 + (i % 100), tag);
          f.writeUInt32BE(i, 1);
          if (!peer.link.send(f)) await peer.link.drain();
        }
      }
      expect(await withTimeout(okA, 20_000, 'link A')).to.equal(undefined);
      expect(await withTimeout(okB, 20_000, 'link B')).to.equal(undefined);
      await a.link.close();
      await b.link.close();
    });

    it('sends frames written in place with claim()/commit(), in order with send(), byte-exact', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      const sizes = [0, 1, 64, KiB, 64 * KiB, MiB];
      const sent: Buffer[] = [];
      const inPlace: number[] = [];
      const got: Buffer[] = [];
      const all = new Promise<void>((resolve) =>
        link.onFrame((f) => {
          got.push(Buffer.from(f));
          if (got.length === 2 * sizes.length) resolve();
        }),
      );
      for (const size of sizes) {
        const frame = randomFrame(size);
        const region = link.claim!(size + 16); // claims may be larger than what is committed
        if (region) {
          region.set(frame);
          link.commit!(size);
          inPlace.push(size);
        } else link.send(frame);
        sent.push(frame);
        const plain = randomFrame(size);
        link.send(plain);
        sent.push(plain);
      }
      await withTimeout(all, 20_000, 'the echoes');
      expect(inPlace, 'sizes written in place').to.include(64);
      expect(got.map((b) => b.length)).to.deep.equal(sent.map((b) => b.length));
      for (let i = 0; i < sent.length; i++) expect(got[i]!.equals(sent[i]!), `frame ${i}`).to.equal(true);
      await link.close();
    });

    it('claim()/commit() misuse is a typed error that leaves the link working', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      expect((thrown(() => link.commit!(0)) as TransportError).code).to.equal('ERR_NO_CLAIM');
      expect(thrown(() => link.claim!(link.capabilities.maxFrame + 1))).to.be.instanceOf(FrameTooLargeError);
      expect(thrown(() => link.claim!(-1))).to.be.instanceOf(RangeError);
      const region = link.claim!(8);
      expect(region, 'an 8-byte claim on an idle link').to.not.equal(null);
      expect((thrown(() => link.send(Buffer.from('x'))) as TransportError).code).to.equal('ERR_CLAIM_OPEN');
      expect((thrown(() => link.claim!(8)) as TransportError).code).to.equal('ERR_CLAIM_OPEN');
      expect(thrown(() => link.commit!(9))).to.be.instanceOf(RangeError);
      region!.set(Buffer.from('in place'));
      link.commit!(8);
      const back = nextFrame(link);
      expect((await back).toString()).to.equal('in place');
      await link.close();
      expect((thrown(() => link.claim!(8)) as TransportError).code).to.equal('ERR_LINK_CLOSED');
    });

    itReliable('hands frames up in batches through onFrames(), in order, each valid during its call', async function () {
      await fx.start();
      const { link } = await fx.open('echo');
      const N = 20_000;
      let next = 0;
      let batches = 0;
      let bad: string | undefined;
      const done = new Promise<void>((resolve) =>
        link.onFrames!((batch) => {
          batches++;
          for (let i = 0; i < batch.count; i++) {
            const at = batch.bytes.byteOffset + batch.starts[i]!;
            const f = Buffer.from(batch.bytes.buffer, at, batch.lengths[i]!);
            const seq = f.readUInt32BE(0);
            if ((seq !== next || f.length !== 8 + (seq % 40)) && bad === undefined) bad = `expected frame ${next} of ${8 + (next % 40)} B, got ${seq} of ${f.length} B`;
            next++;
          }
          if (next === N) resolve();
        }),
      );
      await sendAll(link, sequencedFrames(N, 8, 40));
      await withTimeout(done, 30_000, 'all echoes');
      expect(bad).to.equal(undefined);
      expect(next).to.equal(N);
      expect(batches).to.be.at.most(N);
      await link.close();
    });

    it('rejects a bad address with a TransportError that quotes it', async function () {
      const table = BAD_ADDRESSES[transport.scheme];
      expect(table, `BAD_ADDRESSES has no entry for ${transport.scheme}`).to.not.equal(undefined);
      for (const address of table!(fx.dir)) {
        let error: unknown;
        try {
          const link = await connect(address, { timeoutMs: 500 });
          await link.close();
        } catch (err) {
          error = err;
        }
        expect(error, address).to.be.instanceOf(TransportError);
        const e = error as TransportError;
        expect(e.code, address).to.be.a('string').and.not.equal('');
        expect(e.message, `message for ${address}`).to.match(/\S{3,}/);
        expect(e.message.includes(address) || e.message.includes(new URL(address).href) || e.message.includes('fd '), `"${e.message}" names ${address}`).to.equal(true);
      }
      expect(readdirSync(fx.dir), 'files left by failed connects').to.deep.equal([]);
    });
  });
}

describe('transport registry', function () {
  it('rejects unknown schemes and non-URLs with TransportError', async function () {
    for (const [address, code] of [
      ['nosuch://x', 'ERR_UNKNOWN_SCHEME'],
      ['not a url', 'ERR_BAD_ADDRESS'],
    ] as const) {
      let error: unknown;
      try {
        await connect(address);
      } catch (err) {
        error = err;
      }
      expect(error, address).to.be.instanceOf(TransportError);
      expect((error as TransportError).code).to.equal(code);
      expect((error as TransportError).message).to.include(address.split(':')[0]!);
    }
  });

  it('registers the five stream transports', function () {
    expect(listTransports().map((t) => t.scheme)).to.include.members(['pipe', 'socketpair', 'fifo', 'unix', 'tcp']);
  });
});
