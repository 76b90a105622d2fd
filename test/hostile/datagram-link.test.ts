/**
 * datagram-link.test.ts: the datagram link layer (src/transports/datagram/datagram-wire.ts
 * and what DatagramCarrier does with each datagram it is handed) against what a hostile
 * peer can send once a link is open: random datagrams, unknown kinds, short ones, DATA
 * beyond credit, DATA whose fragment is forged, CREDIT and PING grants near 2^32.
 *
 * The carrier runs here on a fake port and sink (the transport's socket and LinkCore), so
 * each case is microseconds; the same datagrams through real sockets and queues are in
 * transports.test.ts. Invariants checked every case: receive() never throws; a broken rule
 * ends the link once, as `protocol-error` with a ProtocolError (FrameTooLargeError
 * included); a paused reader holds at most window + 1 datagrams; no frame above maxFrame is
 * handed up; the sender never puts more DATA on the wire than the largest grant allows.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.js';
import type { CarrierSink, FrameBatch } from '../../src/transports/core/transport.js';
import { DatagramCarrier, type DatagramPort } from '../../src/transports/datagram/datagram-carrier.js';
import { DATA_HEADER_BYTES, KIND_BYE, KIND_CREDIT, KIND_DATA, KIND_PING } from '../../src/transports/datagram/datagram-wire.js';
import { FRAGMENT_HEADER_BYTES } from '../../src/transports/datagram/fragment.js';
import { unwrapSerial } from '../../src/transports/datagram/serial.js';
import { bytes, edgyU32, runs } from './runs.js';

const MAX_DATAGRAM = 64;
const PIECE = MAX_DATAGRAM - DATA_HEADER_BYTES - FRAGMENT_HEADER_BYTES;
const MAX_FRAME = 300;
const WINDOW = 6;

class FakePort implements DatagramPort {
  readonly sent: Buffer[] = [];
  trySend(datagrams: readonly Buffer[], start: number): number {
    for (let i = start; i < datagrams.length; i++) this.sent.push(Buffer.from(datagrams[i]!));
    return datagrams.length - start;
  }
  sendLater(_d: readonly Buffer[], _s: number, done: (error: Error | null, sent: number) => void): void {
    done(null, 0);
  }
  async release(): Promise<void> {}
}

class FakeSink implements CarrierSink {
  paused = false;
  ending = false;
  readonly batching = false;
  readonly frames: Buffer[] = [];
  readonly failures: { kind: string; error: Error }[] = [];
  gone = 0;
  deliver(frame: Uint8Array): boolean {
    this.frames.push(Buffer.from(frame));
    return !this.paused;
  }
  deliverBatch(_b: FrameBatch): number {
    throw new Error('not batching');
  }
  drained(): void {}
  peerGone(): void {
    this.gone++;
  }
  /** Set once the carrier exists: LinkCore releases its carrier at once on a failure. */
  carrier: DatagramCarrier | undefined;
  fail(kind: 'protocol-error' | 'error', error: Error): void {
    this.failures.push({ kind, error });
    void this.carrier?.release(kind);
  }
}

function carrier(reliable: boolean, sink: FakeSink, port = new FakePort()): DatagramCarrier {
  sink.carrier = new DatagramCarrier(
    { scheme: 'test', remote: 'peer', reliable, maxFrame: MAX_FRAME, port, maxDatagram: MAX_DATAGRAM, window: WINDOW, peerWindow: 4 },
    sink,
  );
  return sink.carrier;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A fragment piece, near-valid or forged (see reassembler.test.ts for the reassembler alone). */
const fragment = fc
  .record({
    seq: fc.oneof(fc.integer({ min: 0, max: 6 }), edgyU32()),
    total: fc.oneof(fc.integer({ min: 0, max: MAX_FRAME + 1 }), edgyU32()),
    index: fc.oneof(fc.integer({ min: 0, max: 8 }), edgyU32()),
    pieceSize: fc.oneof(fc.constant(PIECE), edgyU32()),
    payload: bytes(PIECE + 2),
  })
  .map((f) => Buffer.concat([u32(f.seq), u32(f.total), u32(f.index), u32(f.pieceSize), f.payload]));

const datagram = fc.oneof(
  bytes(24).map((b) => Buffer.from(b)),
  fc.tuple(edgyU32(), fragment).map(([dseq, f]) => Buffer.concat([Buffer.of(KIND_DATA), u32(dseq), f])),
  edgyU32().map((g) => Buffer.concat([Buffer.of(KIND_CREDIT), u32(g)])),
  fc.tuple(edgyU32(), edgyU32()).map(([n, g]) => Buffer.concat([Buffer.of(KIND_PING), u32(n), u32(g)])),
  edgyU32().map((n) => Buffer.concat([Buffer.of(KIND_BYE), u32(n)])),
  fc.constantFrom(KIND_DATA, KIND_CREDIT, KIND_PING, KIND_BYE, 0, 5, 0x10, 0xff).chain((k) => bytes(4).map((b) => Buffer.concat([Buffer.of(k), b]))),
);

describe('hostile: datagram link layer (datagram-wire.ts, datagram-carrier.ts)', function () {
  for (const reliable of [true, false]) {
    it(`random datagrams on a ${reliable ? 'reliable (msgq)' : 'best-effort (udp, nats)'} link, reader paused at random: one protocol-error at most, bounded holding, no throw (10,000 cases)`, async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(datagram, fc.boolean()), { maxLength: 24 }), async (input) => {
          const sink = new FakeSink();
          const c = carrier(reliable, sink);
          c.start();
          for (const [d, pause] of input) {
            if (sink.failures.length || sink.gone) break; // LinkCore stops feeding an ended link
            sink.paused = pause;
            if (!pause) c.resume();
            c.receive(d);
            const holding = (c as unknown as { held: Buffer[]; heldHead: number });
            expect(holding.held.length - holding.heldHead, 'datagrams held').to.be.at.most(WINDOW + 1);
          }
          expect(sink.failures.length).to.be.at.most(1);
          for (const f of sink.failures) {
            expect(f.kind).to.equal('protocol-error');
            expect(f.error).to.be.instanceOf(ProtocolError);
          }
          for (const f of sink.frames) expect(f.length).to.be.at.most(MAX_FRAME);
          await c.release(sink.failures.length ? 'protocol-error' : 'closed');
        }),
        runs(),
      );
    });
  }

  it('floods of empty frames (one header-only piece each) from a peer that keeps to its credit: every one delivered, nothing held (200 floods)', async function () {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2000 }), fc.boolean(), async (n, reliable) => {
        const sink = new FakeSink();
        const c = carrier(reliable, sink);
        c.start();
        for (let i = 0; i < n; i++) {
          // DATA dseq i, fragment seq i, total 0, index 0, pieceSize of the link
          c.receive(Buffer.concat([Buffer.of(KIND_DATA), u32(i), u32(i), u32(0), u32(0), u32(PIECE)]));
        }
        expect(sink.failures).to.deep.equal([]);
        expect(sink.frames.length).to.equal(n);
        expect(sink.frames.every((f) => f.length === 0)).to.equal(true);
        expect(c.holding).to.equal(false);
        await c.release('closed');
      }),
      runs(200),
    );
  });

  it('CREDIT and PING grants near 2^32 (credit overflow, wrap, going backwards): DATA on the wire never passes the largest grant (10,000 cases)', async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.boolean(), edgyU32(), edgyU32()), { maxLength: 8 }), async (grants) => {
        const sink = new FakeSink();
        const port = new FakePort();
        const c = carrier(false, sink, port);
        const FRAMES = 40;
        for (let i = 0; i < FRAMES; i++) c.write(Buffer.of(i));
        c.flush();
        let allowed = 4; // the handshake's window
        for (const [ping, a, b] of grants) {
          c.receive(ping ? Buffer.concat([Buffer.of(KIND_PING), u32(a), u32(b)]) : Buffer.concat([Buffer.of(KIND_CREDIT), u32(a)]));
          allowed = Math.max(allowed, unwrapSerial(ping ? b : a, FRAMES));
        }
        await new Promise((r) => setImmediate(r));
        const data = port.sent.filter((d) => d[0] === KIND_DATA).length;
        expect(data).to.equal(Math.min(FRAMES, allowed));
        expect(sink.failures).to.deep.equal([]);
        await c.release('closed');
      }),
      runs(),
    );
  });
});
