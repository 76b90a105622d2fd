/**
 * fragment.ts: split frames into numbered pieces and put them back together, for the
 * transports whose unit is a datagram or a record of bounded size (udp, msgq, shm). Written
 * once, for all of them.
 *
 * Piece layout (all big-endian, 16-byte header):
 *
 *   +-----------+-------------+-------------+-----------------+---------------------+
 *   | seq: u32  | total: u32  | index: u32  | pieceSize: u32  | payload             |
 *   +-----------+-------------+-------------+-----------------+---------------------+
 *
 *   seq        the frame's sequence number, +1 per frame per direction, wrapping at 2^32
 *   total      the frame's length in bytes
 *   index      this piece's number, 0 .. count-1, where count = max(1, ceil(total / pieceSize))
 *   pieceSize  payload bytes in every piece but the last (constant within a frame)
 *
 * Every piece of a frame must agree on total and pieceSize, and carry exactly the payload
 * length its index implies; anything else is a ProtocolError (the peer is broken or hostile).
 *
 * The Reassembler never holds an incomplete frame forever: it bounds the number of frames in
 * flight, their bytes, and their age. A frame it gives up on is counted `lost` (and `expired`
 * if some pieces had arrived), never delivered partly. Sequence numbers tell loss (a seq that
 * never completes), duplicates (a piece or frame seen twice) and reordering (a frame that
 * completes after a later one was delivered) apart; the counts are exact, never estimates.
 *
 * Reassemblers that share a PartialFrameBudget (every datagram link of the process shares
 * `partialFrames`) are bounded together too: per-link bounds alone let many links each hold
 * their full share, so a peer opening many links could grow the process without end. Over
 * the budget, the reassembler with the most incomplete frames (then the most bytes) is failed
 * (PartialFramesError) and drops all it holds: an honest sender finishes one frame before the
 * next (pieces go out back to back), so it has one incomplete frame at a time (a few, on a
 * lossy transport, until they expire), while holding many is what an attack on memory does; what each one charges is always given back (completed, given up, failed or
 * flushed), so the budget's total is exactly the bytes its members hold.
 */
import { ProtocolError, FrameTooLargeError, PartialFramesError } from '../../errors.js';
import { U32, unwrapSerial } from './serial.js';

export const FRAGMENT_HEADER_BYTES = 16;

/** Splits frames into pieces of at most `maxPiece` bytes (header included). */
export class Fragmenter {
  private seq = 0;
  readonly pieceSize: number;

  /** @param initialSeq the first frame's seq (tests start near 2^32 to cross the wrap). */
  constructor(maxPiece: number, initialSeq = 0) {
    this.seq = initialSeq >>> 0;
    if (!Number.isInteger(maxPiece) || maxPiece <= FRAGMENT_HEADER_BYTES) {
      throw new RangeError(`a piece must hold more than the ${FRAGMENT_HEADER_BYTES}-byte fragment header (got ${maxPiece})`);
    }
    this.pieceSize = maxPiece - FRAGMENT_HEADER_BYTES;
  }

  /**
   * The pieces of `frame`, in order. Each is a fresh buffer the caller may keep, with
   * `headroom` bytes left free before its header: a link writes its own header there, so a
   * piece is copied once, straight into the datagram that goes on the wire.
   */
  split(frame: Uint8Array, headroom = 0): Buffer[] {
    const total = frame.byteLength;
    const count = Math.max(1, Math.ceil(total / this.pieceSize));
    const seq = this.takeSeq();
    const pieces = new Array<Buffer>(count);
    for (let i = 0; i < count; i++) {
      const start = i * this.pieceSize;
      const end = Math.min(total, start + this.pieceSize);
      const piece = Buffer.allocUnsafe(headroom + FRAGMENT_HEADER_BYTES + end - start);
      this.writeHeader(piece, headroom, seq, total, i);
      piece.set(frame.subarray(start, end), headroom + FRAGMENT_HEADER_BYTES);
      pieces[i] = piece;
    }
    return pieces;
  }

  /**
   * Makes `target[at + FRAGMENT_HEADER_BYTES ..]`, a frame of `total` bytes already written in
   * place, the one piece of the next frame: writes its header at `at`. For a frame written
   * where it will be sent (claim/commit), so `total` is at most `pieceSize`.
   */
  writeSingle(target: Buffer, at: number, total: number): void {
    if (total > this.pieceSize) throw new RangeError(`a frame of ${total} bytes is more than one ${this.pieceSize}-byte piece`);
    this.writeHeader(target, at, this.takeSeq(), total, 0);
  }

  private takeSeq(): number {
    const seq = this.seq;
    this.seq = (this.seq + 1) % U32;
    return seq;
  }

  private writeHeader(target: Buffer, at: number, seq: number, total: number, index: number): void {
    target.writeUInt32BE(seq, at);
    target.writeUInt32BE(total, at + 4);
    target.writeUInt32BE(index, at + 8);
    target.writeUInt32BE(this.pieceSize, at + 12);
  }
}

/** Default of the process-wide budget for bytes of incomplete frames (PROTOCOL.md §4). */
export const DEFAULT_MAX_PARTIAL_FRAME_BYTES = 64 * 1024 * 1024;

/**
 * Bytes of incomplete frames held by the reassemblers that share it, bounded by `limit`.
 * A member is charged the payload bytes it has received into incomplete frames (or the whole
 * total of one it allocated upfront), and only while it holds some, so a link that ended
 * leaves nothing behind here.
 */
export class PartialFrameBudget {
  private total = 0;
  private readonly holders = new Map<Reassembler, number>();

  constructor(private max: number) {
    this.setLimit(max);
  }

  get limit(): number {
    return this.max;
  }

  /** Bytes held now, by all members together. */
  get heldBytes(): number {
    return this.total;
  }

  /** Members holding anything now. */
  get holding(): number {
    return this.holders.size;
  }

  /** Changes the bound; what is held above it is dealt with at the next piece that adds to it. */
  setLimit(bytes: number): void {
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`the budget for incomplete frames must be a whole number of bytes >= 1, got ${String(bytes)}`);
    this.max = bytes;
  }

  /** A member's holding changed by `delta` bytes. */
  charge(member: Reassembler, delta: number): void {
    if (delta === 0) return;
    const n = (this.holders.get(member) ?? 0) + delta;
    if (n > 0) this.holders.set(member, n);
    else this.holders.delete(member);
    this.total += delta;
  }

  /** A member gives back everything it was charged (it failed or was dropped). */
  forget(member: Reassembler): void {
    const n = this.holders.get(member);
    if (n === undefined) return;
    this.holders.delete(member);
    this.total -= n;
  }

  /**
   * Over the limit: fails the members with the most incomplete frames (then the most bytes)
   * until the total fits again.
   */
  enforce(): void {
    while (this.total > this.max) {
      let worst: Reassembler | undefined;
      let most = 0;
      let frames = 0;
      for (const [member, n] of this.holders) {
        const f = member.incompleteFrames;
        if (f > frames || (f === frames && n > most)) {
          worst = member;
          most = n;
          frames = f;
        }
      }
      if (worst === undefined) return;
      worst.evict(most, this.max);
      this.forget(worst); // whatever the member did, it holds nothing the budget counts now
    }
  }
}

/** The budget every datagram link of this process shares (see setMaxPartialFrameBytes). */
export const partialFrames = new PartialFrameBudget(DEFAULT_MAX_PARTIAL_FRAME_BYTES);

/**
 * Bounds the bytes of incomplete frames (pieces of frames not yet whole) that this process's
 * datagram links (msgq, udp, nats) hold together. Default 64 MiB. Past it, the link holding
 * the most is closed as a protocol error (`PartialFramesError`, `ERR_PARTIAL_FRAMES`).
 */
export function setMaxPartialFrameBytes(bytes: number): void {
  partialFrames.setLimit(bytes);
}

/** Counters kept by a Reassembler. */
export interface FragmentStats {
  /** Frames delivered whole. */
  received: number;
  /** Frames given up on (never delivered): a missing seq, or a frame with missing pieces. */
  lost: number;
  /** Of `lost`, the frames that had some pieces when they were given up on. */
  expired: number;
  /** Frames delivered after a frame with a higher seq. */
  reordered: number;
  /** Pieces that arrived again, or for a frame already delivered or given up on. */
  duplicates: number;
}

export interface ReassemblerOptions {
  /** Largest frame accepted. */
  maxFrame: number;
  /** Most frames in flight (incomplete, or missing behind a later one). Default 1024. */
  maxPending?: number;
  /** Most bytes held for incomplete frames. Default 2 x maxFrame. */
  maxPendingBytes?: number;
  /** How long a frame may stay incomplete or missing before it is lost. Default 2000 ms. */
  maxAgeMs?: number;
  /** The seq of the sender's first frame (its Fragmenter's initialSeq). Default 0. */
  initialSeq?: number;
  /**
   * The pieceSize every piece must announce, when the link knows it (both sides fragment to
   * one negotiated size: `new Fragmenter(n).pieceSize`). Anything else is a protocol error:
   * without it, a few tiny datagrams could announce a huge frame in 1-byte pieces and make us
   * allocate its whole size, plus a byte per piece, at once.
   */
  pieceSize?: number;
  /**
   * Keep each piece as it arrives and join them when the frame is whole, instead of
   * allocating the announced total at the first piece. Costs one more copy per frame; bounds
   * memory by what the peer actually sent (for links whose peer may lie: udp, msgq).
   */
  allocateAsReceived?: boolean;
  /** A budget shared with other reassemblers (other links), bounding their bytes together. */
  budget?: PartialFrameBudget;
}

interface Partial {
  readonly since: number;
  readonly total: number;
  readonly pieceSize: number;
  readonly count: number;
  readonly buf: Buffer | null; // the whole frame, allocated upfront (null when allocating as received)
  readonly parts: (Buffer | undefined)[] | null; // the pieces so far, when allocating as received
  readonly have: Uint8Array; // one byte per piece: cheaper than bit twiddling, bounded by maxFrame / pieceSize
  missing: number;
  /** Bytes this frame holds (counted in pendingBytes). */
  held: number;
}

/** Puts pieces back together. Pieces may come lost, duplicated or out of order. */
export class Reassembler {
  readonly stats: FragmentStats = { received: 0, lost: 0, expired: 0, reordered: 0, duplicates: 0 };
  private readonly maxFrame: number;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  private readonly pieceSize: number | undefined;
  private readonly asReceived: boolean;
  private readonly maxAgeMs: number;
  /** Every seq below `base` is resolved (delivered or lost). Unwrapped: grows past 2^32. */
  private base = 0;
  /** Highest seq seen + 1 (unwrapped); seqs in [base, next) are pending or resolved. */
  private next = 0;
  private highestDelivered = -1;
  /** Seqs in [base, next) not yet resolved: a Partial, or a gap (seen nothing yet). */
  private readonly pending = new Map<number, Partial | { since: number; gap: true }>();
  /** Seqs in [base, next) already resolved, waiting for base to pass them. */
  private readonly resolved = new Set<number>();
  private pendingBytes = 0;
  /** Entries of `pending` that are partial frames (not gaps). */
  private partials = 0;
  private readonly budget: PartialFrameBudget | undefined;

  /**
   * @param onFrame called with each whole frame and its wire seq. A single-piece frame is a
   *   view of the piece pushed (no copy): copy it to keep it past the call.
   */
  constructor(
    options: ReassemblerOptions,
    private readonly onFrame: (frame: Buffer, seq: number) => void,
    private readonly onError: (error: ProtocolError) => void,
  ) {
    this.maxFrame = options.maxFrame;
    this.maxPending = options.maxPending ?? 1024;
    this.maxPendingBytes = options.maxPendingBytes ?? 2 * options.maxFrame;
    this.pieceSize = options.pieceSize;
    this.asReceived = options.allocateAsReceived ?? false;
    this.maxAgeMs = options.maxAgeMs ?? 2000;
    this.budget = options.budget;
    // Both ends agree where the stream starts, so even its first frames can be missed,
    // reordered or duplicated and still be counted exactly.
    this.base = this.next = (options.initialSeq ?? 0) >>> 0;
  }

  /** Frames in flight (incomplete or missing). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Frames of which some pieces, not all, have arrived. */
  get incompleteFrames(): number {
    return this.partials;
  }

  /** Bytes held for incomplete frames. */
  get heldBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Takes one piece. Returns false after a ProtocolError (reported once through onError);
   * the reassembler then ignores everything.
   */
  push(piece: Uint8Array, now = Date.now()): boolean {
    if (this.failed) return false;
    if (piece.byteLength < FRAGMENT_HEADER_BYTES) return this.fail(`a fragment of ${piece.byteLength} bytes is shorter than its header`);
    const view = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    const wireSeq = view.readUInt32BE(0);
    const total = view.readUInt32BE(4);
    const index = view.readUInt32BE(8);
    const pieceSize = view.readUInt32BE(12);
    const payload = view.subarray(FRAGMENT_HEADER_BYTES);
    if (total > this.maxFrame) {
      this.failed = true;
      this.budget?.forget(this);
      this.onError(new FrameTooLargeError(total, this.maxFrame, 'receive'));
      return false;
    }
    if (pieceSize === 0) return this.fail('a fragment with pieceSize 0');
    if (this.pieceSize !== undefined && pieceSize !== this.pieceSize) return this.fail(`a fragment with pieceSize ${pieceSize}; this link's pieces are ${this.pieceSize} bytes`);
    const count = Math.max(1, Math.ceil(total / pieceSize));
    if (index >= count) return this.fail(`fragment ${index} of a ${count}-piece frame`);
    const expect = index < count - 1 ? pieceSize : total - index * pieceSize;
    if (payload.length !== expect) return this.fail(`fragment ${index} carries ${payload.length} bytes, ${expect} expected`);

    const seq = unwrapSerial(wireSeq, this.next);
    if (seq < this.base || this.resolved.has(seq)) {
      this.stats.duplicates++;
      return true;
    }
    if (seq >= this.next) this.open(seq, now);

    let entry = this.pending.get(seq)!;
    if ('gap' in entry) {
      if (count === 1) {
        this.complete(seq, payload); // a view of the piece: valid for the callback, as Link frames are
        return true;
      }
      entry = {
        since: entry.since,
        total,
        pieceSize,
        count,
        buf: this.asReceived ? null : Buffer.allocUnsafe(total),
        parts: this.asReceived ? new Array<Buffer | undefined>(count) : null,
        have: new Uint8Array(count),
        missing: count,
        held: this.asReceived ? count : total,
      };
      this.pending.set(seq, entry);
      this.pendingBytes += entry.held;
      this.partials++;
      if (!this.asReceived) this.charge(total);
    } else if (entry.total !== total || entry.pieceSize !== pieceSize) {
      return this.fail(`fragments of frame ${wireSeq} disagree on its size`);
    }
    if (entry.have[index]) {
      this.stats.duplicates++;
      return true;
    }
    entry.have[index] = 1;
    entry.missing--;
    if (entry.parts) {
      entry.parts[index] = Buffer.from(payload); // a copy: the piece's buffer is the link's
      entry.held += payload.length;
      this.pendingBytes += payload.length;
      this.charge(payload.length);
    } else {
      payload.copy(entry.buf!, index * pieceSize);
    }
    if (entry.missing === 0) {
      this.pendingBytes -= entry.held;
      this.partials--;
      this.charge(-charged(entry));
      this.complete(seq, entry.parts ? Buffer.concat(entry.parts as Buffer[], total) : entry.buf!);
    } else {
      this.enforceBounds(now);
      // other links' incomplete frames count too: over the shared budget, the largest holder goes
      this.budget?.enforce();
      if (this.failed) return false;
    }
    return true;
  }

  /** Gives up on frames older than maxAgeMs. Call it from a timer; push() calls it too. */
  sweep(now = Date.now()): void {
    // `pending` iterates in insertion order, which is seq order and so `since` order (a
    // partial keeps its gap's slot and time): stop at the first frame still young enough.
    for (const [seq, entry] of this.pending) {
      if (now - entry.since < this.maxAgeMs) break;
      this.giveUp(seq);
    }
    this.advance();
  }

  /** Gives up on everything in flight (the link is closing): counts it lost. */
  flush(): void {
    for (const seq of [...this.pending.keys()]) this.giveUp(seq);
    this.advance();
  }

  private failed = false;

  /**
   * Called by the shared budget: this reassembler holds the most while the budget is spent.
   * Gives up everything it holds (counted lost) and reports PartialFramesError once.
   */
  evict(held: number, limit: number): void {
    if (this.failed) return;
    this.failed = true;
    this.budget?.forget(this);
    this.flush();
    this.onError(new PartialFramesError(held, limit));
  }

  /**
   * Tells the budget. Once failed, this reassembler has given back everything at once
   * (forget), so what it gives up afterwards (flush) is not given back a second time.
   */
  private charge(delta: number): void {
    if (!this.failed) this.budget?.charge(this, delta);
  }

  private fail(why: string): false {
    this.failed = true;
    this.budget?.forget(this);
    this.onError(new ProtocolError(`malformed fragment: ${why}`, 'ERR_BAD_FRAGMENT'));
    return false;
  }

  /**
   * Opens seqs [next, seq]: those before seq are gaps (missing), seq itself is seen now.
   * At most maxPending seqs stay tracked: anything older than seq - maxPending + 1 is given
   * up (counted lost), tracked or not.
   */
  private open(seq: number, now: number): void {
    const floor = seq - this.maxPending + 1;
    if (floor > this.base) {
      for (const s of [...this.pending.keys()]) if (s < floor) this.giveUp(s);
      if (floor > this.next) this.stats.lost += floor - this.next; // never opened at all
      for (const s of this.resolved) if (s < floor) this.resolved.delete(s);
      this.base = floor;
      if (this.next < floor) this.next = floor;
    }
    for (let s = this.next; s <= seq; s++) this.pending.set(s, { since: now, gap: true });
    this.next = seq + 1;
    this.advance();
  }

  private complete(seq: number, frame: Buffer): void {
    this.pending.delete(seq);
    this.resolved.add(seq);
    this.stats.received++;
    if (seq < this.highestDelivered) this.stats.reordered++;
    else this.highestDelivered = seq;
    this.advance();
    this.onFrame(frame, seq % U32);
  }

  private giveUp(seq: number): void {
    const entry = this.pending.get(seq);
    if (!entry) return;
    this.pending.delete(seq);
    this.resolved.add(seq);
    this.stats.lost++;
    if (!('gap' in entry)) {
      this.stats.expired++;
      this.pendingBytes -= entry.held;
      this.partials--;
      this.charge(-charged(entry));
    }
  }

  private advance(): void {
    while (this.base < this.next && this.resolved.delete(this.base)) this.base++;
  }

  private enforceBounds(now: number): void {
    this.sweep(now);
    // Over the byte budget: the oldest incomplete frames go first.
    if (this.pendingBytes > this.maxPendingBytes) {
      for (const [seq, entry] of this.pending) {
        if (this.pendingBytes <= this.maxPendingBytes) break;
        if (!('gap' in entry)) this.giveUp(seq);
      }
      this.advance();
    }
  }
}

/** What a partial frame is charged to a budget: payload received, or the total allocated upfront. */
function charged(entry: Partial): number {
  return entry.parts ? entry.held - entry.count : entry.held;
}
