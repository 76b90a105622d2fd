/**
 * partial-budget.test.ts: the process-wide cap on bytes of incomplete frames (issue 14,
 * defect 3's last part; src/transports/datagram/fragment.ts PartialFrameBudget), first on
 * reassemblers sharing one budget, then on a real msgq listener whose raw peers open many
 * partial frames over several links while a well-behaved client keeps being answered.
 *
 * Invariants: after every piece the budget's total is within its limit; the link failed for
 * it is the one that held the most, with PartialFramesError (ERR_PARTIAL_FRAMES), once; every
 * byte charged is given back (completed, given up, failed, flushed), so nothing is left
 * counted when the links are gone.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { connect, listen, PartialFramesError, ProtocolError, setMaxPartialFrameBytes, type CloseReason, type Link, type Listener } from '../../src/index.js';
import { native } from '../../src/native.js';
import { DEFAULT_MAX_PARTIAL_FRAME_BYTES, FRAGMENT_HEADER_BYTES, PartialFrameBudget, partialFrames, Reassembler } from '../../src/transports/datagram/fragment.js';
import { msgqLimits } from '../../src/transports/datagram/msgq.js';
import { withTimeout } from '../setup/timing.js';
import { runs } from './runs.js';

const PIECE = 100;

function piece(seq: number, total: number, index: number, pieceSize: number): Buffer {
  const count = Math.max(1, Math.ceil(total / pieceSize));
  const n = index < count - 1 ? pieceSize : total - index * pieceSize;
  const b = Buffer.alloc(FRAGMENT_HEADER_BYTES + n, 0x5a);
  b.writeUInt32BE(seq >>> 0, 0);
  b.writeUInt32BE(total, 4);
  b.writeUInt32BE(index, 8);
  b.writeUInt32BE(pieceSize, 12);
  return b;
}

describe('hostile: the process-wide budget for incomplete frames', function () {
  it('reassemblers sharing a budget: within the limit after every piece, one typed error per member at most, nothing left counted, never below zero (2,000 cases)', function () {
    // `forged`: a piece of another pieceSize, which fails that reassembler (ERR_BAD_FRAGMENT) while it holds frames
    const op = fc.record({ link: fc.nat({ max: 3 }), seq: fc.nat({ max: 5 }), index: fc.nat({ max: 9 }), flush: fc.boolean(), forged: fc.nat({ max: 19 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 1, max: 3000 }), fc.boolean(), (ops, limit, asReceived) => {
        const budget = new PartialFrameBudget(limit);
        const errors: unknown[][] = [[], [], [], []];
        const links = errors.map(
          (errs) => new Reassembler({ maxFrame: 1000, pieceSize: PIECE, allocateAsReceived: asReceived, maxAgeMs: 2 ** 31, budget }, () => {}, (e) => errs.push(e)),
        );
        for (const o of ops) {
          const r = links[o.link]!;
          if (o.flush && o.index === 0) r.flush();
          else r.push(o.forged === 0 ? piece(o.seq, 1000, o.index, PIECE + 1) : piece(o.seq, 1000, o.index, PIECE), 1000);
          expect(budget.heldBytes, 'a negative total: bytes given back twice').to.be.at.least(0);
          expect(budget.heldBytes, 'over the limit after a piece').to.be.at.most(limit);
        }
        for (const errs of errors) {
          expect(errs.length).to.be.at.most(1);
          for (const e of errs) expect((e as ProtocolError).code).to.be.oneOf(['ERR_PARTIAL_FRAMES', 'ERR_BAD_FRAGMENT']);
        }
        for (const r of links) r.flush();
        expect(budget.heldBytes, 'bytes left counted').to.equal(0);
        expect(budget.holding).to.equal(0);
      }),
      runs(2000),
    );
  });

  it('the member with the most incomplete frames is the one failed, not a bigger single frame; the others keep theirs', function () {
    const budget = new PartialFrameBudget(1000);
    const got: string[] = [];
    const mk = (name: string): Reassembler =>
      new Reassembler({ maxFrame: 10_000, pieceSize: PIECE, allocateAsReceived: true, budget }, () => got.push(`${name} frame`), (e) => got.push(`${name} ${(e as ProtocolError).code}`));
    const [small, big] = [mk('small'), mk('big')];
    const [many, one, other] = [mk('many'), mk('one'), mk('other')];
    for (let seq = 0; seq < 3; seq++) many.push(piece(seq, 1000, 0, PIECE)); // 3 frames, 300 bytes
    for (let i = 0; i < 5; i++) one.push(piece(0, 5000, i, PIECE)); // 1 frame, 500 bytes
    for (let seq = 0; seq < 2; seq++) other.push(piece(seq, 1000, 0, PIECE)); // 2 frames, 200 bytes: 1000, the limit
    expect(got).to.deep.equal([]);
    one.push(piece(0, 5000, 5, PIECE)); // 1100: over; "many" has the most incomplete frames
    expect(got).to.deep.equal(['many ERR_PARTIAL_FRAMES']);
    expect(budget.heldBytes).to.equal(800);
    one.push(piece(0, 5000, 6, PIECE)); // 900
    expect(got).to.deep.equal(['many ERR_PARTIAL_FRAMES']);
    for (let i = 7; i < 50; i++) one.push(piece(0, 5000, i, PIECE));
    // "one" grows past the limit: "other" (two incomplete frames) goes first, then "one" itself
    expect(got[1]).to.equal('other ERR_PARTIAL_FRAMES');
    expect(got[2]).to.equal('one ERR_PARTIAL_FRAMES');
    expect(budget.heldBytes).to.equal(0);
  });

  it(`is ${DEFAULT_MAX_PARTIAL_FRAME_BYTES / 2 ** 20} MiB by default and refuses a limit that is not a whole number of bytes >= 1`, function () {
    expect(partialFrames.limit).to.equal(DEFAULT_MAX_PARTIAL_FRAME_BYTES);
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) expect(() => setMaxPartialFrameBytes(bad), String(bad)).to.throw(RangeError);
  });
});

// ---- a real msgq listener and raw peers ---------------------------------------------------

const HELLO = 0x10;
const WELCOME = 0x11;
const ACK = 0x14;
const VERSION = 2;

/** Sends one SysV message, retrying while the (small) queue is full. */
async function send(msqid: number, mtype: number, m: Buffer): Promise<void> {
  for (const deadline = Date.now() + 10_000; native.msgsndBatch(msqid, mtype, [m], 0) !== 1; ) {
    if (Date.now() > deadline) throw new Error(`queue full for 10 s (mtype ${mtype})`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Opens a link the raw way (HELLO, WELCOME, ACK); returns its up mtype. */
async function rawLink(msqid: number, reply: number): Promise<number> {
  const h = Buffer.alloc(14);
  h[0] = HELLO;
  h[1] = VERSION;
  h.writeUInt32BE(process.pid, 2);
  h.writeUInt32BE(reply, 6);
  h.writeUInt32BE(256, 10);
  await send(msqid, 1, h);
  let w: Buffer | null = null;
  for (const deadline = Date.now() + 5000; w === null; ) {
    w = native.msgrcvNoWait(msqid, reply, 8192);
    if (w === null) {
      if (Date.now() > deadline) throw new Error('no WELCOME');
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  expect(w[0]).to.equal(WELCOME);
  const up = w.readUInt32BE(6);
  const a = Buffer.alloc(10);
  a[0] = ACK;
  a[1] = VERSION;
  a.writeUInt32BE(process.pid, 2);
  a.writeUInt32BE(up, 6);
  await send(msqid, 1, a);
  return up;
}

describe('hostile: msgq raw peers opening many partial frames', function () {
  this.timeout(60_000);
  let listener: Listener;
  const links: Link[] = [];
  const reasons: Promise<CloseReason>[] = [];

  before(async function () {
    setMaxPartialFrameBytes(256 * 1024);
    listener = await listen('msgq://0', (l) => {
      links.push(l);
      reasons.push(l.closed);
      l.onFrame((f) => l.send(Buffer.from(f)));
    });
  });

  after(async function () {
    setMaxPartialFrameBytes(DEFAULT_MAX_PARTIAL_FRAME_BYTES);
    await Promise.all(links.map((l) => l.close()));
    await listener.close();
  });

  it('4 raw links x 12 first pieces of 1 MiB frames, past a 256 KiB budget: links holding many close with ERR_PARTIAL_FRAMES, the budget holds, a client is still answered', async function () {
    const msqid = native.msgget(Number(listener.address.hostname), false, 0);
    const { msgmax } = msgqLimits();
    const pieceSize = msgmax - 21; // PROTOCOL.md §6: a DATA carries msgmax - 21 payload bytes
    const good = await connect(listener.address);
    const echoes: string[] = [];
    good.onFrame((f) => echoes.push(Buffer.from(f).toString()));
    const ups: number[] = [];
    for (let i = 0; i < 4; i++) ups.push(await rawLink(msqid, 2 ** 30 + 4242 + i));
    let peak = 0;
    for (let frame = 0; frame < 12; frame++) {
      for (const up of ups) {
        // DATA: dseq = frame, then the first piece of frame `frame` (seq = frame) of 1 MiB
        const d = Buffer.alloc(5 + FRAGMENT_HEADER_BYTES + pieceSize, 0x33);
        d[0] = 0x01;
        d.writeUInt32BE(frame, 1);
        d.writeUInt32BE(frame, 5);
        d.writeUInt32BE(1 << 20, 9);
        d.writeUInt32BE(0, 13);
        d.writeUInt32BE(pieceSize, 17);
        await send(msqid, up, d);
        peak = Math.max(peak, partialFrames.heldBytes);
      }
      good.send(Buffer.from(`ask ${frame}`));
    }
    await withTimeout(
      (async () => {
        while (echoes.length < 12) await new Promise((r) => setTimeout(r, 5));
      })(),
      20_000,
      'the client answered 12 times',
    );
    expect(echoes).to.deep.equal(Array.from({ length: 12 }, (_, i) => `ask ${i}`));
    expect(peak, 'bytes of incomplete frames held at most').to.be.at.most(256 * 1024);
    // the raw links are links[1..]: the client connected first
    const ended = await Promise.all(
      reasons.slice(1).map((r) => Promise.race([r, new Promise<undefined>((res) => setTimeout(() => res(undefined), 3000))])),
    );
    const byBudget = ended.filter((r) => r?.kind === 'protocol-error' && r.error instanceof PartialFramesError);
    expect(byBudget.length, `links closed by the budget (reasons: ${ended.map((r) => r?.kind ?? 'open').join(', ')})`).to.be.at.least(1);
    expect((byBudget[0]!.error as PartialFramesError).code).to.equal('ERR_PARTIAL_FRAMES');
    // a frame of many pieces from the client still goes through while the others are gone
    const big = Buffer.alloc(200 * 1024, 7);
    const back = new Promise<number>((resolve) => good.onFrame((f) => resolve(f.byteLength)));
    good.send(big);
    expect(await withTimeout(back, 20_000, 'a 200 KiB echo')).to.equal(big.length);
    await good.close();
  });
});
