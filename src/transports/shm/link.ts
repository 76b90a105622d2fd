/**
 * link.ts: the shm Link, a ShmCarrier under LinkCore (link-core.ts owns the lifecycle).
 *
 * The carrier moves frames through the rings of one mapped segment (native/shm_ring.h). The
 * record format (headers, padding, the wrap, every check on a record) is native code's only:
 * JavaScript claims a region of the send ring, writes frames into it in the stream framing
 * (u32 big-endian length + payload, docs/PROTOCOL.md §1), and commits it as one record; on
 * the receive side it asks native code for the next checked record and splits its frames
 * (batch.ts). Native calls are per record, never per frame.
 *
 * Invariants:
 * - Sending: write() copies a frame into the open region when nothing is queued and it fits
 *   (claiming a new region, up to an eighth of the ring, when the open one is used up); else
 *   it queues. A Link-level claim() goes into the open region the same way; when the ring is
 *   full (or frames are queued) it goes into the spill, memory of ours reused in turn, and
 *   is queued from there on commit: without it, a bus sender meeting a full ring wrote each
 *   frame into a new Buffer first (a fresh 1 MiB allocation per 1 MiB tell). flush() (once per tick, from LinkCore) commits the open region, then writes the
 *   queue as far as the ring allows; when full, the waiter reports eventSpace once the
 *   consumer moves past the position the failed claim saw, which flushes again.
 * - A record never exceeds an eighth of the ring unless one frame needs more (up to half:
 *   larger frames go as fragment pieces of a quarter ring, one piece per record), so the
 *   consumer, which releases only whole records, can hand space back every eighth of the ring
 *   and the two sides do not take turns.
 * - A received frame is a view into the receive ring, valid during the handler call only:
 *   space is released only up to the end of records whose frames have all been handed up. A
 *   pause in the middle of a record keeps the rest of it here (heldAt..heldEnd, or the batch)
 *   and releases nothing of it. The mapping is detached at release, so a view kept past its
 *   callback reads as empty.
 * - Frames go up one at a time (sink.deliver) unless the sink says a batch handler is set
 *   (sink.batching): then a record is split and checked whole first (batch.ts) and handed up
 *   as one FrameBatch. One at a time, the frames of a record before a bad length are handed
 *   up before the link ends, as on a byte stream.
 * - Peer death is EOF on the liveness socket: what the peer published before is delivered
 *   first (LinkCore holds the ending while `holding`), then the link is peer-gone.
 * - Receive positions here are relative to a base kept in native code, moved forward (rebase)
 *   once they pass `rebaseAt`: a double is exact only up to 2^53. Send positions never leave
 *   native code.
 * - Everything read from the shared memory is checked (native read()/claim(), batch.ts): a peer
 *   that writes what cannot be right ends the link as protocol-error (ERR_SHM_CORRUPT).
 */
import type { Socket } from 'node:net';
import { FrameTooLargeError, ProtocolError } from '../../errors.js';
import { native, type ShmEndpoint } from '../../native.js';
import { LinkCore } from '../core/link-core.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { Carrier, CarrierSink, CloseKind } from '../core/transport.js';
import { FRAGMENT_HEADER_BYTES, Fragmenter, Reassembler } from '../datagram/fragment.js';
import { HEADER_BYTES as PREFIX } from '../stream/framing.js';
import { BATCH_MALFORMED, RecordBatch } from './batch.js';
import { Spill } from './spill.js';
import { WAITER_SPIN_NS } from './settings.js';

const L = native.shmLayout;
const FLAG_DATA = L.flagData;
const FLAG_PIECE = L.flagPiece;
const READ_RECORD = L.readRecord;
const READ_EMPTY = L.readEmpty;
const CLAIM_FULL = L.claimFull;
/** Frames handed up per event-loop turn before the rest waits for the next one. */
const DRAIN_BUDGET = 65_536;
/** 2^48 bytes: rebasing happens once per 256 TiB, far below where doubles lose integers. */
const REBASE_AT = 2 ** 48;

export interface ShmLinkInit {
  remote: string;
  options: ResolvedLinkOptions;
  /** The segment; the link maps it and does not keep or close the fd. */
  fd: number;
  /** 0: this side made the segment (initialises it); 1: it attaches. */
  side: 0 | 1;
  /** Bytes per ring. */
  capacity: number;
  /** Spin mode: how long the JS thread polls after the last record, in ns (0: off). */
  spinNs: number;
  /** EOF or an error here means the peer is gone. Owned by the link from now on. */
  liveness: Socket;
  /** Runs once the link has released everything (e.g. to forget an exit hook). */
  onFinished?: () => void;
  /** Receive position past which positions are rebased; tests set it low to exercise that path. */
  rebaseAt?: number;
}

/** An shm link: LinkCore over a ShmCarrier. */
export class ShmLink extends LinkCore {
  constructor(init: ShmLinkInit) {
    super({ scheme: 'shm', remote: init.remote, capabilities: { reliable: true, ordered: true, crossHost: false }, options: init.options });
    this.attach(new ShmCarrier(this, init));
  }
}

class ShmCarrier implements Carrier {
  /** The whole mapping. */
  private readonly ring: Uint8Array;
  private readonly mapping: ArrayBuffer;
  private readonly view: DataView;
  private readonly ep: ShmEndpoint;
  private readonly io: Float64Array;
  private readonly cap: number;
  /** Offset of the receive ring in `memory`. */
  private readonly rxOffset: number;
  private readonly maxFrame: number;
  /** Largest frame written whole (prefix and record header included, it fits half the ring). */
  private readonly maxWhole: number;
  /** Payload bytes a batch record is claimed for (more only for one larger frame). */
  private readonly batchBytes: number;
  /** Bytes handed up before the consumer position is released within a drain. */
  private readonly releaseBytes: number;
  private readonly rebaseAt: number;
  private readonly liveness: Socket;
  private readonly onFinished: (() => void) | undefined;
  private done = false;

  // Send ring: the open region (a claim of native code's), offsets in `memory`.
  private regionOpen = false;
  private regionStart = 0;
  private regionEnd = 0;
  private cursor = 0;
  /** A Link-level claim() is open: its prefix goes at claimAt. */
  private userClaim = false;
  private claimAt = 0;
  /** The open claim is in the spill (its frame is queued on commit). */
  private spillClaim = false;
  private spill: Spill | undefined;
  /** Where the last claim() is: LinkCore reads `memory` right after claim() returns. */
  private claimMemory: Uint8Array;
  private queue: Uint8Array[] = [];
  private queueFlags: number[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private fragmenter: Fragmenter | undefined;
  private lingerDone: (() => void) | null = null;

  // Receive ring: positions relative to native's base.
  private readonly batch: RecordBatch;
  /** After everything read() returned (padding included). */
  private rxRead = 0;
  /** After the last record whose frames have all been handed up. */
  private rxDone = 0;
  private rxReleased = 0;
  /**
   * The rest of the record ending at rxRead, behind a pause in its middle: frames from
   * `heldAt` to `heldEnd` (offsets in `memory`), or, for a batch handler, `batch` (count > 0).
   */
  private heldAt = 0;
  private heldEnd = 0;
  /** Frames the last deliverFrames() handed up (for the drain budget). */
  private delivered = 0;
  private reassembler: Reassembler | undefined;
  private started = false;
  private draining = false;
  private drainAgain = false;
  private peerGoneSeen = false;

  // Spin mode: the JS thread polls the ring once per event-loop turn until `pollUntil`.
  private readonly pollMs: number;
  private polling = false;
  private pollUntil = 0;
  private armScheduled = false;

  constructor(
    private readonly sink: CarrierSink,
    init: ShmLinkInit,
  ) {
    this.liveness = init.liveness;
    this.onFinished = init.onFinished;
    this.pollMs = init.spinNs / 1e6;
    this.maxFrame = init.options.maxFrame;
    this.ep = new native.ShmEndpoint(init.fd, init.side, init.capacity, init.spinNs > 0 ? 0 : WAITER_SPIN_NS, (events) => this.onEvents(events));
    this.io = this.ep.io;
    this.mapping = this.ep.memory;
    this.ring = this.claimMemory = new Uint8Array(this.mapping);
    this.view = new DataView(this.mapping);
    this.cap = this.ep.capacity;
    this.rxOffset = this.ep.receiveOffset;
    this.maxWhole = this.cap / 2 - L.recordHeader - PREFIX;
    this.batchBytes = this.cap / 8 - L.recordHeader;
    this.releaseBytes = this.cap / 8;
    this.rebaseAt = init.rebaseAt ?? REBASE_AT;
    this.batch = new RecordBatch(new Uint8Array(this.mapping, this.rxOffset, this.cap));

    this.liveness.on('data', () => {}); // nothing is ever sent on it; reading is how EOF shows
    this.liveness.on('error', () => this.onPeerGone());
    this.liveness.on('end', () => this.onPeerGone());
    this.liveness.on('close', () => this.onPeerGone());
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  /** The memory claim() offsets are in: the mapping, or the spill while a spill claim is open. */
  get memory(): Uint8Array {
    return this.claimMemory;
  }

  get holding(): boolean {
    return this.batch.count > 0 || this.heldAt < this.heldEnd || (!this.done && this.ep.available() !== this.rxRead);
  }

  // ---- sending ------------------------------------------------------------------------------

  write(frame: Uint8Array): void {
    const len = frame.length;
    // Fast path: nothing queued, the frame goes whole: copy it into the open region now (one
    // commit at the end of the tick publishes the tick's frames as one record).
    if (this.queueHead === this.queue.length && len <= this.maxWhole) {
      let at = this.cursor;
      if (this.regionEnd - at < PREFIX + len) {
        if (!this.openRegion(PREFIX + len)) {
          if (!this.done) this.enqueue(frame, len);
          return;
        }
        at = this.cursor;
      }
      this.view.setUint32(at, len);
      // A frame received on this link is a view into the other ring: copying it here is safe.
      if (len !== 0) this.ring.set(frame, at + PREFIX);
      this.cursor = at + PREFIX + len;
      return;
    }
    this.enqueue(frame, len);
  }

  private enqueue(frame: Uint8Array, len: number): void {
    // A frame received on this link is a view into our receive ring, which the peer reuses
    // once the handler returns: a queued one must be a copy.
    if (frame.buffer === this.mapping) frame = frame.slice();
    if (len <= this.maxWhole) {
      this.queue.push(frame);
      this.queueFlags.push(FLAG_DATA);
      this.queuedBytes += len;
    } else {
      this.fragmenter ??= new Fragmenter(this.cap / 4);
      // count what flush() will subtract: each piece, fragment header included
      for (const piece of this.fragmenter.split(frame)) {
        this.queue.push(piece);
        this.queueFlags.push(FLAG_PIECE);
        this.queuedBytes += piece.length;
      }
    }
  }

  claim(maxBytes: number): number {
    // Too large for one record: send() fragments it instead.
    if (maxBytes > this.maxWhole) return -1;
    if (this.queueHead === this.queue.length) {
      let at = this.cursor;
      if (this.regionEnd - at < PREFIX + maxBytes && !this.openRegion(PREFIX + maxBytes)) at = -1;
      else at = this.cursor;
      if (at >= 0) {
        this.userClaim = true;
        this.claimAt = at;
        this.claimMemory = this.ring;
        return at + PREFIX;
      }
      if (this.done) return -1;
    }
    // The ring is full, or frames wait (order): the spill, written to the ring by flush().
    this.spill ??= new Spill(this.cap / 2);
    const at = this.spill.take(maxBytes);
    if (at < 0) return -1;
    this.userClaim = this.spillClaim = true;
    this.claimAt = at;
    this.claimMemory = this.spill.bytes;
    return at;
  }

  commit(length: number): void {
    this.userClaim = false;
    this.claimMemory = this.ring;
    if (this.spillClaim) {
      this.spillClaim = false;
      this.queue.push(this.spill!.committed(this.claimAt, length));
      this.queueFlags.push(FLAG_DATA);
      this.queuedBytes += length;
      return;
    }
    this.view.setUint32(this.claimAt, length);
    this.cursor = this.claimAt + PREFIX + length;
  }

  /** Commits the open region (if any), then claims one with room for `min` bytes. false: full (or corrupt: the link ended). */
  private openRegion(min: number): boolean {
    if (this.regionOpen) this.closeRegion();
    const at = this.ep.claim(min, min > this.batchBytes ? min : this.batchBytes);
    if (at < 0) {
      if (at !== CLAIM_FULL) this.corrupt(`the consumer position of our send ring cannot be right (claim: ${at})`);
      return false;
    }
    this.regionOpen = true;
    this.regionStart = this.cursor = at;
    this.regionEnd = at + this.io[0]!;
    return true;
  }

  /** Commits what the open region holds as one record and publishes it. */
  private closeRegion(): void {
    const used = this.cursor - this.regionStart;
    this.regionOpen = false;
    this.regionStart = this.regionEnd = this.cursor = 0;
    this.ep.commit(used, FLAG_DATA);
  }

  flush(): void {
    // An open Link-level claim lies in the open region: its commit() schedules the next flush.
    if (this.done || this.userClaim) return;
    if (this.regionOpen) this.closeRegion();
    if (this.queueHead === this.queue.length) return;
    const q = this.queue;
    const flags = this.queueFlags;
    const memory = this.ring;
    const spill = this.spill;
    let head = this.queueHead;
    let written = 0;
    while (head < q.length) {
      const f = q[head]!;
      const len = f.length;
      if (flags[head] === FLAG_PIECE) {
        if (this.regionOpen) this.closeRegion();
        const at = this.ep.claim(len, len);
        if (at < 0) {
          if (at !== CLAIM_FULL) return void this.corrupt(`the consumer position of our send ring cannot be right (claim: ${at})`);
          break;
        }
        memory.set(f, at);
        this.ep.commit(len, FLAG_PIECE);
      } else {
        let at = this.cursor;
        if (this.regionEnd - at < PREFIX + len) {
          if (!this.openRegion(PREFIX + len)) {
            if (this.done) return;
            break;
          }
          at = this.cursor;
        }
        this.view.setUint32(at, len);
        if (len !== 0) memory.set(f, at + PREFIX);
        this.cursor = at + PREFIX + len;
        if (spill !== undefined && spill.isSpilled(f)) spill.written(f);
      }
      written += len;
      q[head++] = undefined as unknown as Uint8Array;
    }
    if (this.regionOpen) this.closeRegion();
    this.queuedBytes -= written;
    if (head === q.length) {
      // emptied in place: a ring that fills often does not allocate two arrays each time
      q.length = 0;
      flags.length = 0;
      this.queueHead = 0;
      this.lingerDone?.();
    } else {
      this.queueHead = head;
      // Full at the consumer position the failed claim just read: the waiter reports
      // eventSpace once it moves past that.
      this.ep.wantSpace();
    }
    if (written > 0) this.sink.drained();
  }

  // ---- receiving ----------------------------------------------------------------------------

  start(): void {
    this.started = true;
    this.drainReceived();
  }

  pause(): void {
    // Delivery stops at the sink; the waiter is not re-armed while paused.
  }

  resume(): void {
    this.drainReceived();
  }

  private onEvents(events: number): void {
    if (this.done) return;
    if (events & L.eventSpace) this.flush();
    if (events & L.eventData) this.drainReceived();
  }

  /**
   * Hands up what is ready (held frames first, then record after record), releasing space
   * every eighth of the ring, then re-arms the waiter (or polls, in spin mode). Reentrant
   * calls (a handler calling resume() or close()) only ask the running loop to look again.
   */
  private drainReceived(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    const sink = this.sink;
    if (this.done || (!this.started && !sink.ending)) return;
    this.draining = true;
    try {
      // At most this many frames per turn of the event loop: a large ring must not starve
      // timers and I/O. What is left re-arms the waiter, which reports it at once.
      let budget = DRAIN_BUDGET;
      do {
        this.drainAgain = false;
        while (budget > 0 && !this.done) {
          const dropping = sink.ending;
          if (sink.paused && !dropping) break;
          if (this.batch.count > 0 || this.heldAt < this.heldEnd) {
            // The rest of a record paused in the middle.
            if (dropping) {
              this.batch.count = 0;
              this.heldAt = this.heldEnd = 0;
            } else if (this.batch.count > 0) {
              const batch = this.batch;
              const took = sink.deliverBatch(batch);
              budget -= took;
              if (this.done) return;
              if (took < batch.count) {
                batch.drop(took);
                continue; // paused (or ending): the loop's checks decide
              }
              batch.count = 0;
            } else {
              const at = this.deliverFrames(this.heldAt, this.heldEnd);
              budget -= this.delivered;
              if (at < 0) return;
              this.heldAt = at;
              if (at < this.heldEnd) continue;
              this.heldAt = this.heldEnd = 0;
            }
            this.rxDone = this.rxRead;
          } else {
            const got = this.ep.read();
            const io = this.io;
            this.rxRead = io[3]!;
            if (got === READ_EMPTY) {
              this.rxDone = this.rxRead; // padding only, if anything
              break;
            }
            if (got !== READ_RECORD) return void this.corrupt(`read() found a bad record (${got}) at position ${this.rxRead}`);
            const at = io[0]!;
            const length = io[1]!;
            if (dropping) {
              this.rxDone = this.rxRead;
            } else if (io[2] === FLAG_DATA) {
              if (sink.batching) {
                const n = this.batch.split(at - this.rxOffset, length, this.maxFrame);
                if (n < 0) {
                  if (n === BATCH_MALFORMED) return void this.malformed(length);
                  return void sink.fail('protocol-error', new FrameTooLargeError(this.batch.tooLarge, this.maxFrame, 'receive'));
                }
                if (n === 0) this.rxDone = this.rxRead;
                continue;
              }
              const stop = this.deliverFrames(at, at + length);
              budget -= this.delivered;
              if (stop < 0) return;
              if (stop < at + length) {
                this.heldAt = stop;
                this.heldEnd = at + length;
                continue;
              }
              this.rxDone = this.rxRead;
            } else {
              if (!this.pushPiece(at, length)) return;
              budget--;
              this.rxDone = this.rxRead;
            }
          }
          // Hand space back every eighth of the ring, not once per drain: with a full ring,
          // releasing only at the end made the two sides take turns, idle half the time.
          if (this.rxDone - this.rxReleased >= this.releaseBytes) {
            this.ep.release(this.rxDone, false);
            this.rxReleased = this.rxDone;
          }
        }
      } while (this.drainAgain && !this.done && budget > 0);
      if (this.done) return;
      this.ep.release(this.rxDone, false);
      this.rxReleased = this.rxDone;
      if (!sink.paused || sink.ending) {
        if (this.pollMs > 0 && !sink.ending) {
          // Spin mode: poll on the next turns instead of arming the waiter.
          this.pollUntil = performance.now() + this.pollMs;
          if (!this.polling) {
            this.polling = true;
            setImmediate(this.poll);
          }
        } else if (!this.armScheduled) {
          // Arm the waiter after this tick's sends are flushed: waking the waiter must not
          // delay a reply on the round-trip path. A reply sent from the handler itself queued
          // its flush (a nextTick) before this; a reply sent from a promise reaction (the bus
          // answering an ask) queues it during the microtasks that run after the ticks, so
          // arming goes through one microtask first and lands behind that flush.
          this.armScheduled = true;
          process.nextTick(this.armAfterReactions);
        }
      }
      if (this.rxRead === this.rxDone && this.rxRead >= this.rebaseAt) {
        // Released up to rxRead above, so that is the new zero (an armed waiter keeps the
        // absolute position it was given).
        this.ep.rebase(this.rxRead);
        this.rxRead = this.rxDone = this.rxReleased = 0;
      }
      // Again after each drain: LinkCore ends the link once nothing is held.
      if (this.peerGoneSeen) sink.peerGone();
    } finally {
      this.draining = false;
    }
  }

  /**
   * Hands up the frames of a data record one at a time, from `at` to `end` (offsets in
   * `memory`): each length is read once and checked against what is left of the record
   * before its frame is handed up. Returns where it stopped (`end` when done; earlier when
   * the handler paused), or -1 once the link ended. Sets `delivered`.
   */
  private deliverFrames(at: number, end: number): number {
    const view = this.view;
    const mapping = this.mapping;
    const sink = this.sink;
    const maxFrame = this.maxFrame;
    let n = 0;
    while (at < end) {
      if (end - at < PREFIX) return this.malformed(end - at);
      const len = view.getUint32(at);
      at += PREFIX;
      if (len > end - at) return this.malformed(len);
      if (len > maxFrame) {
        sink.fail('protocol-error', new FrameTooLargeError(len, maxFrame, 'receive'));
        return -1;
      }
      n++;
      const more = sink.deliver(new Uint8Array(mapping, at, len));
      at += len;
      if (!more) break;
    }
    this.delivered = n;
    return this.done ? -1 : at;
  }

  private malformed(bytes: number): -1 {
    this.corrupt(`a data record does not split into frames (${bytes} bytes where a frame should be)`);
    return -1;
  }

  /** One fragment piece, at `at` in `memory`. false once the link ended. */
  private pushPiece(at: number, len: number): boolean {
    if (len < FRAGMENT_HEADER_BYTES) {
      this.corrupt(`a fragment record of ${len} bytes`);
      return false;
    }
    this.reassembler ??= new Reassembler(
      // A reliable, ordered ring never loses a piece: nothing may expire while paused.
      { maxFrame: this.maxFrame, maxPending: 2, maxAgeMs: 2 ** 31 - 1 },
      (frame) => void this.sink.deliver(frame),
      (error) => this.sink.fail('protocol-error', error),
    );
    return this.reassembler.push(new Uint8Array(this.mapping, at, len)) && !this.done;
  }

  private readonly armAfterReactions = (): void => {
    queueMicrotask(this.armNextTick);
  };

  private readonly armNextTick = (): void => {
    process.nextTick(this.arm);
  };

  private readonly arm = (): void => {
    this.armScheduled = false;
    if (this.done || this.draining) return;
    if (this.sink.paused && !this.sink.ending) return;
    this.ep.release(this.rxDone, true);
  };

  /** Spin mode: one look at the ring per event-loop turn; arms the waiter when the window closes. */
  private readonly poll = (): void => {
    this.polling = false;
    if (this.done || (this.sink.paused && !this.sink.ending)) return;
    if (this.rxDone !== this.rxRead || this.ep.available(this.rxRead) !== this.rxRead || this.peerGoneSeen) this.drainReceived();
    else if (performance.now() < this.pollUntil) {
      this.polling = true;
      setImmediate(this.poll);
    } else this.ep.release(this.rxDone, true);
  };

  private corrupt(why: string): void {
    this.sink.fail('protocol-error', new ProtocolError(`shm peer wrote an invalid ring: ${why}`, 'ERR_SHM_CORRUPT'));
  }

  /** The peer's end of the liveness socket closed: what it published before goes up first. */
  private onPeerGone(): void {
    if (this.peerGoneSeen || this.done) return;
    this.peerGoneSeen = true;
    this.lingerDone?.(); // closing: nobody is left to take what we would wait to write
    if (this.started && !this.sink.paused) this.drainReceived();
    else this.sink.peerGone();
  }

  // ---- ending -------------------------------------------------------------------------------

  linger(deadline: number): Promise<void> {
    this.userClaim = this.spillClaim = false; // LinkCore dropped an open claim: its bytes are not a frame
    this.claimMemory = this.ring;
    this.flush();
    this.drainReceived(); // from now on, what arrives is read and dropped
    if (this.done || this.peerGoneSeen || this.queueHead === this.queue.length) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.lingerDone?.(), Math.max(0, deadline - Date.now()));
      this.lingerDone = () => {
        clearTimeout(timer);
        this.lingerDone = null;
        resolve();
      };
    });
  }

  release(_kind: CloseKind): Promise<void> {
    this.done = true;
    this.lingerDone?.();
    this.ep.close();
    this.queue = [];
    this.queueFlags = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.spill = undefined;
    this.batch.count = 0;
    this.heldAt = this.heldEnd = 0;
    this.reassembler = undefined;
    const s = this.liveness;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.onFinished?.();
        resolve();
      };
      if (s.closed) done();
      else {
        s.once('close', done);
        s.destroy();
      }
    });
  }
}
