/**
 * msgq-credit.test.ts: the credit rule of PROTOCOL.md §5 where it meets fragmentation: a DATA
 * datagram counts as consumed once its piece is taken into reassembly, whether or not its
 * frame is complete. So a frame of more pieces than the credit window (256 datagrams, each
 * msgmax - 21 payload bytes) goes through; were credit returned only per whole frame, the
 * sender would stop after `window` pieces of its first such frame and the link would hang.
 * Real SysV queue, both directions at once, big frames interleaved with small ones, every
 * byte checked in order; and a reader paused in the middle of such a frame holds its peer
 * back at the window, then completes the frame on resume.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { DATA_PAYLOAD_OFFSET } from '../../src/transports/datagram/datagram-wire.js';
import { msgqLimits, WINDOW } from '../../src/transports/datagram/msgq.js';
import { DEFAULT_MAX_FRAME } from '../../src/transports/core/transport.js';
import { withTimeout } from '../setup/timing.js';

const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The payload bytes one msgq DATA datagram carries. */
function pieceSize(): number {
  return msgqLimits().msgmax - DATA_PAYLOAD_OFFSET;
}

/** Frames of WINDOW+1, 2*WINDOW+2 and 3*WINDOW pieces, each between small frames. */
function framesToSend(): Buffer[] {
  const p = pieceSize();
  const bigSizes = [WINDOW * p + 1, 2 * WINDOW * p + p + 17, 3 * WINDOW * p];
  for (const s of bigSizes) expect(s, 'a test frame must fit maxFrame').to.be.below(DEFAULT_MAX_FRAME);
  const frames: Buffer[] = [];
  for (const size of bigSizes) {
    for (let i = 0; i < 4; i++) frames.push(randomBytes(1 + ((i * 97) % 300)));
    frames.push(randomBytes(size));
  }
  frames.push(Buffer.alloc(0), randomBytes(5));
  return frames;
}

/** Collects the digests of the frames `link` delivers until it has `n`. */
function receive(link: Link, n: number, what: string): Promise<string[]> {
  const got: string[] = [];
  return withTimeout(
    new Promise<string[]>((resolve) =>
      link.onFrame((f) => {
        got.push(digest(f));
        if (got.length === n) resolve(got);
      }),
    ),
    90_000,
    `${what}: ${n} frames`,
  );
}

async function pair(): Promise<{ listener: Listener; client: Link; server: Link }> {
  let accept!: (l: Link) => void;
  const accepted = new Promise<Link>((r) => (accept = r));
  const listener = await listen('msgq://0', (l) => accept(l));
  const client = await connect(listener.address);
  const server = await withTimeout(accepted, 10_000, 'the listener takes the link');
  return { listener, client, server };
}

describe('msgq credit: frames of more pieces than the window', function () {
  this.timeout(180_000);

  it(`frames of more than ${WINDOW} pieces pass both ways at once between small frames, every byte in order`, async function () {
    const { listener, client, server } = await pair();
    try {
      const up = framesToSend();
      const down = framesToSend();
      expect(Math.ceil(up[4]!.length / pieceSize()), 'pieces of the first big frame').to.be.above(WINDOW);
      const atServer = receive(server, up.length, 'client -> listener');
      const atClient = receive(client, down.length, 'listener -> client');
      for (let i = 0; i < Math.max(up.length, down.length); i++) {
        if (up[i]) client.send(up[i]!);
        if (down[i]) server.send(down[i]!);
      }
      expect(await atServer).to.deep.equal(up.map(digest));
      expect(await atClient).to.deep.equal(down.map(digest));
      expect(client.stats?.lost ?? 0).to.equal(0);
      expect(server.stats?.lost ?? 0).to.equal(0);
    } finally {
      // both ends: a link left paused holds the peer's BYE behind the DATA it is not reading
      await Promise.all([client.close(), server.close()]);
      await listener.close();
    }
  });

  it('a reader paused in the middle of such a frame holds its peer at the window, and completes the frame on resume', async function () {
    const { listener, client, server } = await pair();
    try {
      const big = randomBytes(2 * WINDOW * pieceSize() + 3);
      const small = randomBytes(100);
      server.pause();
      const got: Buffer[] = [];
      server.onFrame((f) => got.push(Buffer.from(f)));
      client.send(big);
      client.send(small);
      // The client may send WINDOW datagrams (of a frame of 2*WINDOW+1 pieces), then waits.
      const unsent = big.length + small.length - WINDOW * pieceSize();
      const backedUp = async (): Promise<void> => {
        while (client.bufferedAmount > unsent) await new Promise((r) => setTimeout(r, 10));
      };
      await withTimeout(backedUp(), 30_000, `client sends the ${WINDOW} datagrams of its window`);
      // And no more while the reader is paused: the rest of the frame stays with the sender.
      await new Promise((r) => setTimeout(r, 300));
      expect(client.bufferedAmount, 'bytes not sent: all but the window').to.equal(unsent);
      expect(got).to.have.length(0);
      server.resume();
      const done = async (): Promise<void> => {
        while (got.length < 2) await new Promise((r) => setTimeout(r, 10));
      };
      await withTimeout(done(), 60_000, 'both frames after resume');
      expect(digest(got[0]!)).to.equal(digest(big));
      expect(got[1]!.equals(small)).to.equal(true);
    } finally {
      // both ends: a link left paused holds the peer's BYE behind the DATA it is not reading
      await Promise.all([client.close(), server.close()]);
      await listener.close();
    }
  });
});
