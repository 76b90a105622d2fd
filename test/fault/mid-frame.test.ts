/**
 * mid-frame.test.ts: the peer dies in the middle of a frame, over every transport, at
 * the Link level (no bus above to hide anything).
 *
 * The frame is 48 MiB: more than a byte stream's kernel buffers hold, more than a datagram
 * link's credit window (many pieces) and more than a shm ring (many records), so with our
 * side paused the sender cannot finish it. The sender (test/fixtures/fault-sender.ts) says
 * how much of the frame it still holds; once that has stopped moving above 0, it is SIGKILLed
 * with the frame cut: on a stream, a length prefix and part of the body; on udp, msgq and
 * nats, some of its pieces; on shm, some of its records. Then we resume.
 *
 * The second case ends the sender politely instead: it calls close() with a linger of 200 ms
 * while we are paused, so the flush cannot finish and close() gives up with the frame cut.
 *
 * Outcome (docs/GUARANTEES.md, "peer crash"): the link ends `peer-gone` (or
 * `protocol-error`) within a bound, no frame is delivered (never a truncated one), and after
 * close nothing of the case is left.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen, spawnWithLink, type Link, type Listener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { withTimeout } from '../setup/timing.js';
import { exited, expectNothingLeft, FAULT_TRANSPORTS, transportOf } from './helpers.js';

const SENDER = fileURLToPath(new URL('../fixtures/fault-sender.js', import.meta.url));
const FRAME = 48 * 1024 * 1024;

interface Opened {
  link: Link;
  child: ChildProcess;
  listener: Listener | undefined;
}

/** The sender over `label`: an inherited end for pair transports, else it connects to our listener. */
async function openSender(label: string, dir: string, mode: 'kill' | 'close'): Promise<Opened> {
  const t = transportOf(label);
  if (t.pair) {
    const { link, child } = await spawnWithLink(t.scheme, SENDER, { args: ['inherit', String(FRAME), mode], stdio: 'pipe' });
    return { link, child, listener: undefined };
  }
  let accepted!: (l: Link) => void;
  const link = new Promise<Link>((r) => (accepted = r));
  // nats on one host would move to a local unix socket (same-host upgrade): these cases are
  // about a frame cut among NATS datagrams, and unix has its own.
  const address = privateAddress(t.scheme, dir, 'mid') + (t.scheme === 'nats' ? '?upgrade=0' : '');
  const listener = await listen(address, (l) => accepted(l));
  const child = spawn(process.execPath, [SENDER, listener.address.href, String(FRAME), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    return { link: await withTimeout(link, 15_000, `the ${label} sender connects`), child, listener };
  } catch (err) {
    child.kill('SIGKILL');
    await exited(child);
    await listener.close();
    throw err;
  }
}

/** Resolves once the sender has printed the same `pending N` (N > 0) three times in a row. */
function stalledWithFrameCut(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      // whole lines only: a chunk may end in the middle of a number
      const seen = [...out.matchAll(/^pending (\d+)\n/gm)].map((m) => Number(m[1]));
      const last = seen.slice(-3);
      if (last.length === 3 && last[0]! > 0 && last.every((n) => n === last[0])) resolve(last[0]!);
    });
  });
}

describe('fault: the peer ends in the middle of a fragmented frame', function () {
  let opened: Opened | undefined;
  afterEach(async () => {
    if (!opened) return;
    opened.child.kill('SIGKILL');
    await exited(opened.child);
    await opened.link.close();
    await opened.listener?.close();
    opened = undefined;
  });

  for (const label of FAULT_TRANSPORTS) {
    it(`over ${label}: a 48 MiB frame cut by SIGKILL is never delivered; the link ends peer-gone; nothing left`, async function () {
      const dir = makeTempDir();
      const o = (opened = await openSender(label, dir, 'kill'));
      const frames: number[] = [];
      const ready = new Promise<void>((resolve) =>
        o.link.onFrame((f) => {
          if (Buffer.from(f).toString() === 'ready') resolve();
          else frames.push(f.byteLength);
        }),
      );
      await withTimeout(ready, 15_000, 'ready');
      o.link.pause();
      const stalled = stalledWithFrameCut(o.child);
      o.link.send(Buffer.from('go'));
      const held = await withTimeout(stalled, 30_000, `the ${label} sender stalls with part of the frame unsent`);
      // (a stream counts its 4-byte length prefix, and node holds a write whole until it is done)
      expect(held, 'bytes of the frame that never left the sender').to.be.above(0).and.at.most(FRAME + 4);

      o.child.kill('SIGKILL');
      await exited(o.child);
      o.link.resume();
      const reason = await withTimeout(o.link.closed, 15_000, `the ${label} link ends after the sender's death`);
      expect(reason.kind, String(reason.error)).to.be.oneOf(['peer-gone', 'protocol-error']);
      expect(frames, 'no frame delivered (a truncated one least of all)').to.deep.equal([]);
      // where the link counts frames (udp, msgq, nats), the cut one is counted lost, with pieces in
      if (o.link.stats) expect(o.link.stats).to.include({ lost: 1, expired: 1 });

      opened = undefined;
      await o.link.close();
      await o.listener?.close();
      expectNothingLeft(`after a cut frame over ${label}`, [o.child.pid!, process.pid], dir, [basename(dir)]);
    });

    it(`over ${label}: a peer whose close() gives up flushing mid-frame (linger over) never has the cut frame delivered; the link ends peer-gone; nothing left`, async function () {
      const dir = makeTempDir();
      const o = (opened = await openSender(label, dir, 'close'));
      let out = '';
      o.child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
      const frames: number[] = [];
      const ready = new Promise<void>((resolve) =>
        o.link.onFrame((f) => {
          if (Buffer.from(f).toString() === 'ready') resolve();
          else frames.push(f.byteLength);
        }),
      );
      await withTimeout(ready, 15_000, 'ready');
      o.link.pause();
      o.link.send(Buffer.from('go'));
      const exit = await withTimeout(exited(o.child), 30_000, `the ${label} sender closes and exits`);
      expect(exit, out).to.deep.equal({ code: 0, signal: null });
      const held = Number(/^pending (\d+)$/m.exec(out)?.[1]);
      expect(held, `part of the frame was still unsent when close() began: ${out}`).to.be.above(0);
      expect(out).to.match(/^closed$/m);

      o.link.resume();
      const reason = await withTimeout(o.link.closed, 15_000, `the ${label} link ends after the sender's close`);
      expect(reason.kind, String(reason.error)).to.be.oneOf(['peer-gone', 'protocol-error']);
      expect(frames, 'no frame delivered (a truncated one least of all)').to.deep.equal([]);
      // where the link counts frames (udp, msgq, nats), the cut one is counted lost, with pieces in
      if (o.link.stats) expect(o.link.stats).to.include({ lost: 1, expired: 1 });

      opened = undefined;
      await o.link.close();
      await o.listener?.close();
      expectNothingLeft(`after a frame cut by close() over ${label}`, [o.child.pid!, process.pid], dir, [basename(dir)]);
    });
  }
});
