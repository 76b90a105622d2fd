/**
 * shm-records.test.ts: what an shm link (src/transports/shm/link.ts) makes of the records a
 * hostile peer commits into its ring: data records whose payload does not split into §1
 * frames (a length prefix cut short or past the record), fragment-piece records with forged
 * headers, beside honest ones. The native reader's own checks (positions, lengths, flags) are
 * shm-ring.test.ts's; here the records are well-formed for it and the payload is the attack.
 *
 * Both ends share a segment in this process (shm-local-pair.ts); the peer writes records with
 * the native writer (claim, fill, commit) of side 0, so they are published and the reader
 * woken exactly as a real writer does. After each hostile record the peer commits a marker
 * frame: once it arrives, the hostile record was dealt with. Invariants: an honest data
 * record's frames arrive byte-exact; a record that does not split into frames ends the link
 * as protocol-error ERR_SHM_CORRUPT, every time and only then; a forged piece ends it with a
 * ProtocolError or is held (never delivered as a frame of the wrong size); no hang.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { ProtocolError, type CloseReason } from '../../src/index.js';
import { native, type ShmEndpoint } from '../../src/native.js';
import type { ShmLink } from '../../src/transports/shm/link.js';
import { localShmPair } from '../transports/shm-local-pair.js';
import { withTimeout } from '../setup/timing.js';
import { edgyU32, runs } from './runs.js';

const RING = 64 * 1024;
const L = native.shmLayout;

/** A link pair, the peer's writer, and what the reading side got. */
class Rig {
  readonly a: ShmLink;
  readonly b: ShmLink;
  readonly ep: ShmEndpoint;
  readonly frames: Buffer[] = [];
  reason: CloseReason | undefined;
  private wake: (() => void) | undefined;

  constructor() {
    [this.a, this.b] = localShmPair(RING);
    this.ep = (this.a as unknown as { carrier: { ep: ShmEndpoint } }).carrier.ep;
    this.b.onFrame((f) => {
      this.frames.push(Buffer.from(f));
      this.wake?.();
    });
    void this.b.closed.then((r) => {
      this.reason = r;
      this.wake?.();
    });
  }

  /** Commits one record of `flags` holding `payload`, as the peer. */
  async commit(payload: Uint8Array, flags: number): Promise<void> {
    for (const deadline = Date.now() + 5000; ; ) {
      const at = this.ep.claim(payload.length, payload.length);
      if (at >= 0) {
        new Uint8Array(this.ep.memory, at, payload.length).set(payload);
        expect(this.ep.commit(payload.length, flags)).to.equal(0);
        return;
      }
      expect(at, 'claim').to.equal(L.claimFull);
      expect(Date.now() < deadline, 'the reader never freed the ring').to.equal(true);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** Waits until the last frame is `mark`, or the link ended. */
  async until(mark: Buffer): Promise<void> {
    await withTimeout(
      (async () => {
        while (!(this.frames.length > 0 && this.frames[this.frames.length - 1]!.equals(mark)) && this.reason === undefined) {
          await new Promise<void>((r) => (this.wake = r));
        }
        this.wake = undefined;
      })(),
      5000,
      'the marker or the link end',
    );
  }

  async close(): Promise<void> {
    await Promise.all([this.a.close(), this.b.close()]);
  }
}

const frame = (b: Uint8Array): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
};

/** The frames a data record's payload splits into, or 'corrupt'. */
function split(p: Buffer): Buffer[] | 'corrupt' {
  const out: Buffer[] = [];
  for (let at = 0; at < p.length; ) {
    if (p.length - at < 4) return 'corrupt';
    const len = p.readUInt32BE(at);
    at += 4;
    if (len > p.length - at) return 'corrupt';
    out.push(p.subarray(at, at + len));
    at += len;
  }
  return out;
}

const dataRecord = fc.oneof(
  // honest: frames back to back, empty ones included
  fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 6 }).map((fs) => Buffer.concat(fs.map(frame))),
  // honest frames, then a tail that is not a frame: a short prefix, or a length past the end
  fc.tuple(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 3 }), fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([fs, t]) => Buffer.concat([...fs.map(frame), t])),
  fc.tuple(fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 3 }), edgyU32(), fc.uint8Array({ maxLength: 8 })).map(([fs, len, t]) => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE(len);
    return Buffer.concat([...fs.map(frame), h, t]);
  }),
  fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)),
);

const pieceRecord = fc
  .tuple(fc.nat({ max: 3 }), edgyU32(), fc.nat({ max: 3 }), edgyU32(), fc.uint8Array({ maxLength: 32 }))
  .map(([seq, total, index, pieceSize, body]) => {
    const h = Buffer.alloc(16);
    h.writeUInt32BE(seq, 0);
    h.writeUInt32BE(total, 4);
    h.writeUInt32BE(index, 8);
    h.writeUInt32BE(pieceSize, 12);
    return Buffer.concat([h, body]);
  });

describe('hostile: shm link over records a peer commits (link.ts)', function () {
  this.timeout(120_000);

  it('data records that do not split into frames end the link ERR_SHM_CORRUPT, exactly those; honest ones arrive byte-exact (1,000 cases)', async function () {
    let rig = new Rig();
    let marks = 0;
    try {
      await fc.assert(
        fc.asyncProperty(dataRecord, async (payload) => {
          const want = split(payload);
          const before = rig.frames.length;
          await rig.commit(payload, L.flagData);
          const mark = Buffer.from(`mark ${++marks}`);
          await rig.commit(frame(mark), L.flagData);
          await rig.until(mark);
          if (want === 'corrupt') {
            expect(rig.reason?.kind, 'the link should have ended').to.equal('protocol-error');
            expect(rig.reason!.error).to.be.instanceOf(ProtocolError);
            expect((rig.reason!.error as ProtocolError).code).to.equal('ERR_SHM_CORRUPT');
            await rig.close();
            rig = new Rig();
            return;
          }
          expect(rig.reason, 'an honest record ended the link').to.equal(undefined);
          const got = rig.frames.slice(before);
          expect(got.map((f) => f.toString('hex'))).to.deep.equal([...want, mark].map((f) => f.toString('hex')));
        }),
        runs(1000),
      );
    } finally {
      await rig.close();
    }
  });

  it('forged fragment pieces end the link with a ProtocolError or are held; nothing of the wrong size is delivered (1,000 cases)', async function () {
    let rig = new Rig();
    let marks = 0;
    try {
      await fc.assert(
        fc.asyncProperty(pieceRecord, async (piece) => {
          const before = rig.frames.length;
          await rig.commit(piece, L.flagPiece);
          const mark = Buffer.from(`mark ${++marks}`);
          await rig.commit(frame(mark), L.flagData);
          await rig.until(mark); // after a single-piece frame, or alone, or the link ends
          if (rig.reason !== undefined) {
            expect(rig.reason.kind).to.equal('protocol-error');
            expect(rig.reason.error).to.be.instanceOf(ProtocolError);
            await rig.close();
            rig = new Rig();
            return;
          }
          const got = rig.frames.slice(before);
          expect(got[got.length - 1]!.equals(mark), 'the marker arrives last').to.equal(true);
          // a piece delivered as a frame must be a whole one-piece frame: exactly `total` bytes
          if (got.length === 2) expect(got[0]!.length).to.equal(piece.readUInt32BE(4));
        }),
        runs(1000),
      );
    } finally {
      await rig.close();
    }
  });
});
