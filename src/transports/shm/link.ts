/**
 * shm-link.ts: the Link over a mapped shm segment (native/shm_ring.h): records are written
 * into the send ring and read out of the receive ring here, in JavaScript, through one
 * ArrayBuffer over the mapping; native code only publishes and releases positions, rings the
 * doorbells, and runs the waiter thread that calls `onEvents` once per batch.
 *
 * Invariants:
 * - Sends made in one tick are written into the ring together at the end of the tick and
 *   published with one native call. What does not fit stays queued here (`bufferedAmount`);
 *   `send()` returns false once that reaches the high-water mark, and the waiter reports
 *   eventSpace when the consumer has moved, which flushes again and wakes `drain()`.
 * - A received frame is a view into the receive ring, valid during the handler call only:
 *   the consumer position is released only past records whose handlers have returned (at
 *   the end of a batch, and every eighth of the ring within a long one), and the peer may
 *   overwrite the space from then on. The mapping is detached on close, so a view
 *   kept past its callback reads as empty, never as freed memory.
 * - Frames larger than half the ring go in pieces (fragment.ts) of a quarter ring each.
 * - Peer death is EOF on the liveness socket (an fd only the peer holds the other end of):
 *   records the peer published before it went are still delivered (after resume() if
 *   paused), then the link ends as `peer-gone`.
 * - Every ending goes through finish(): joins the waiter, unmaps, destroys the liveness
 *   socket, and resolves `closed` once its fd is closed.
 * - Positions here are relative to a base per ring kept in native code, moved forward (rebase)
 *   once they pass `rebaseAt`: a double is exact only up to 2^53, and a link moving tens of
 *   GB/s would get there within days. Only differences of positions matter here.
 * - Everything read from the shared memory is checked: a peer that publishes a position or a
 *   record that cannot be right ends the link as `protocol-error`, nothing worse.
 */
import type { Socket } from 'node:net';
import { FrameTooLargeError, ProtocolError } from '../../errors.js';
import { native, type ShmEndpoint } from '../../native.js';
import { linkClosedError, sendOnClosedError } from '../core/closed-errors.js';
import { DrainWaiters } from '../core/drain-waiters.js';
import { FRAGMENT_HEADER_BYTES, Fragmenter, Reassembler } from '../datagram/fragment.js';
import { WAITER_SPIN_NS } from './settings.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { CloseKind, CloseReason, Link, LinkCapabilities } from '../core/transport.js';

const L = native.shmLayout;
const HDR = L.recordHeader;
const FLAG_DATA = L.flagData;
const FLAG_PADDING = L.flagPadding;
const FLAG_PIECE = L.flagPiece;
/** Records delivered per event-loop turn before the rest waits for the next one. */
const DRAIN_BUDGET = 65_536;

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
  /** Position past which positions are rebased; tests set it low to exercise that path. */
  rebaseAt?: number;
}

/** 2^48 bytes: rebasing happens once per 256 TiB, far below where doubles lose integers. */
const REBASE_AT = 2 ** 48;

const capabilitiesBase = { reliable: true, ordered: true, crossHost: false } as const;

function align8(n: number): number {
  return (n + 7) & ~7;
}

export class ShmLink implements Link {
  readonly scheme = 'shm';
  readonly remote: string;
  readonly capabilities: LinkCapabilities;
  readonly closed: Promise<CloseReason>;

  private readonly options: ResolvedLinkOptions;
  private readonly ep: ShmEndpoint;
  private readonly memory: ArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly words: Uint32Array;
  private readonly cap: number;
  private readonly liveness: Socket;
  private readonly onFinished: (() => void) | undefined;
  private readonly maxFrame: number;
  /** Largest frame written as one record; larger ones go in pieces. */
  private readonly maxWhole: number;
  /** Bytes read before the consumer position is released mid-batch. */
  private readonly releaseBytes: number;
  private readonly rebaseAt: number;

  // Send ring: this side is the only producer.
  private readonly txBase: number;
  private txPos = 0;
  private txOff = 0;
  private txConsumer = 0;
  private queue: Uint8Array[] = [];
  private queueFlags: number[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private flushScheduled = false;
  private fragmenter: Fragmenter | undefined;

  // Receive ring: this side is the only consumer.
  private readonly rxBase: number;
  private rxPos = 0;
  private rxOff = 0;
  private reassembler: Reassembler | undefined;

  // Spin mode: the JS thread polls the ring once per event-loop turn until `pollUntil`.
  private readonly pollMs: number;
  private polling = false;
  private pollUntil = 0;

  private handler: ((frame: Uint8Array) => void) | null = null;
  private paused = false;
  private draining = false;
  private budget = 0;
  private drainAgain = false;
  private peerGone = false;
  private state: 'open' | 'closing' | 'done' = 'open';
  private reason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private readonly drainers = new DrainWaiters();
  private lingerDone: (() => void) | undefined;

  constructor(init: ShmLinkInit) {
    this.remote = init.remote;
    this.options = init.options;
    this.capabilities = Object.freeze({ ...capabilitiesBase, maxFrame: init.options.maxFrame });
    this.liveness = init.liveness;
    this.onFinished = init.onFinished;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.pollMs = init.spinNs / 1e6;
    this.ep = new native.ShmEndpoint(init.fd, init.side, init.capacity, init.spinNs > 0 ? 0 : WAITER_SPIN_NS, (events) => this.onEvents(events));
    this.memory = this.ep.memory;
    this.bytes = new Uint8Array(this.memory);
    this.words = new Uint32Array(this.memory);
    this.cap = this.ep.capacity;
    this.txBase = this.ep.sendOffset;
    this.rxBase = this.ep.receiveOffset;
    this.maxWhole = this.cap / 2 - HDR;
    this.releaseBytes = this.cap / 8;
    this.rebaseAt = init.rebaseAt ?? REBASE_AT;
    this.maxFrame = init.options.maxFrame;

    this.liveness.on('data', () => {}); // nothing is ever sent on it; reading is how EOF shows
    this.liveness.on('error', () => this.onPeerGone());
    this.liveness.on('end', () => this.onPeerGone());
    this.liveness.on('close', () => this.onPeerGone());
  }

  /** Re-read after calls into handlers, which may end the link (TypeScript narrows `state`). */
  private get ended(): boolean {
    return this.state === 'done';
  }

  get bufferedAmount(): number {
    return this.queuedBytes;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open') {
      throw sendOnClosedError('shm', this.remote, this.reason);
    }
    // length, not byteLength: equal for a Uint8Array, and V8 inlines it (byteLength was a
    // builtin call per send in profiles: ~6 ns of ~28).
    const len = frame.length;
    if (len > this.maxFrame) throw new FrameTooLargeError(len, this.maxFrame, 'send');
    // Fast path: nothing queued and the record fits before the wrap: copy it into the ring
    // now; one publish at the end of the tick makes the whole batch visible.
    if (this.queueHead === this.queue.length) {
      const off = this.txOff;
      const need = HDR + ((len + 7) & ~7);
      if (need <= this.cap - off && this.txPos + need - this.txConsumer <= this.cap && len <= this.maxWhole) {
        const at = this.txBase + off;
        const w = at >>> 2;
        this.words[w] = len;
        this.words[w + 1] = FLAG_DATA;
        if (len !== 0) this.bytes.set(frame, at + HDR);
        this.txPos += need;
        this.txOff = off + need === this.cap ? 0 : off + need;
        if (!this.flushScheduled) {
          this.flushScheduled = true;
          process.nextTick(this.flush);
        }
        return true;
      }
    }
    // A frame received on this link is a view into our own ring: it would be overwritten
    // before it is written out. Echoing it is common enough to be worth a copy.
    if (frame.buffer === this.memory) frame = frame.slice();
    if (len <= this.maxWhole) {
      this.queue.push(frame);
      this.queueFlags.push(L.flagData);
      this.queuedBytes += len;
    } else {
      this.fragmenter ??= new Fragmenter(this.cap / 4);
      // count what flush() will subtract: each piece, fragment header included
      for (const piece of this.fragmenter.split(frame)) {
        this.queue.push(piece);
        this.queueFlags.push(L.flagPiece);
        this.queuedBytes += piece.byteLength;
      }
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flush);
    }
    return this.queuedBytes < this.options.highWaterMark;
  }

  /**
   * Writes as many queued frames as fit into the send ring and publishes them. Publishing
   * also reads the consumer position afresh; if the next frame fits now, it goes on, so
   * wantSpace() is only ever asked for with the consumer position that made the ring full
   * (asking with an older one could wait for a move that has already happened).
   */
  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (this.state === 'done') return;
    if (this.txPos >= this.rebaseAt) {
      // Everything below the consumer is free: that is the new zero.
      const delta = this.txConsumer;
      this.ep.rebase(delta, 0);
      this.txPos -= delta;
      this.txConsumer = 0;
    }
    const flags = this.queueFlags;
    const q = this.queue;
    const bytes = this.bytes;
    const words = this.words;
    const cap = this.cap;
    const base = this.txBase;
    let pos = this.txPos;
    let off = this.txOff;
    let consumer = this.txConsumer;
    let head = this.queueHead;
    let written = 0;
    for (;;) {
      let pad = 0;
      while (head < q.length) {
        const f = q[head]!;
        const len = f.byteLength;
        const need = HDR + align8(len);
        const room = cap - off;
        pad = need > room ? room : 0;
        if (pos + pad + need - consumer > cap) break;
        if (pad !== 0) {
          const w = (base + off) >>> 2;
          words[w] = pad - HDR;
          words[w + 1] = L.flagPadding;
          pos += pad;
          off = 0;
        }
        const w = (base + off) >>> 2;
        words[w] = len;
        words[w + 1] = flags[head]!;
        if (len !== 0) bytes.set(f, base + off + HDR);
        pos += need;
        off += need;
        if (off === cap) off = 0;
        written += len;
        q[head++] = undefined as unknown as Uint8Array;
      }
      consumer = this.publish(pos);
      if (consumer < 0) return;
      if (head === q.length) break;
      const need = HDR + align8(q[head]!.byteLength);
      pad = need > cap - off ? cap - off : 0;
      if (pos + pad + need - consumer > cap) break;
    }
    this.txPos = pos;
    this.txOff = off;
    this.txConsumer = consumer;
    this.queuedBytes -= written;
    if (head === q.length) {
      this.queue = [];
      this.queueFlags = [];
      this.queueHead = 0;
      this.lingerDone?.();
    } else {
      this.queueHead = head;
      // Full: the waiter reports eventSpace once the consumer moves past what we saw.
      this.ep.wantSpace(consumer);
    }
    if (this.queuedBytes < this.options.highWaterMark) this.drainers.wake();
  };

  /** Publishes `pos`; returns the consumer position, or -1 if the peer reported an impossible one. */
  private publish(pos: number): number {
    const consumer = this.ep.publish(pos);
    if (consumer > pos || pos - consumer > this.cap || consumer % 8 !== 0) {
      this.finish('protocol-error', new ProtocolError(`shm peer reported consumer position ${consumer} for producer position ${pos}`, 'ERR_SHM_CORRUPT'));
      return -1;
    }
    return consumer;
  }

  private onEvents(events: number): void {
    if (this.state === 'done') return;
    if (events & L.eventSpace) this.flush();
    if (events & L.eventData) this.drainReceived();
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    const first = this.handler === null;
    this.handler = handler;
    if (first && this.state !== 'done') this.drainReceived();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.handler !== null && this.state !== 'done') this.drainReceived();
  }

  /**
   * Delivers every ready record, then releases the space and re-arms the waiter. Reentrant
   * calls (a handler calling resume()) only ask the running loop to look again.
   */
  private drainReceived(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    if (this.handler === null) return;
    this.draining = true;
    try {
      let available = this.ep.available();
      // At most this many records per turn of the event loop: a large ring must not starve
      // timers and I/O. What is left re-arms the waiter, which reports it at once.
      this.budget = DRAIN_BUDGET;
      do {
        this.drainAgain = false;
        while (this.rxPos !== available && !this.paused && this.state !== 'done' && this.budget > 0) {
          if (!this.readUpTo(available) || this.ended) return;
          available = this.ep.release(this.rxPos, false);
        }
      } while (this.drainAgain && !this.paused && this.state !== 'done' && this.budget > 0);
      if (this.state === 'done') return;
      if (this.pollMs > 0 && !this.paused) {
        // Spin mode: poll on the next turns instead of arming the waiter.
        available = this.ep.release(this.rxPos, false);
        this.pollUntil = performance.now() + this.pollMs;
        if (!this.polling) {
          this.polling = true;
          setImmediate(this.poll);
        }
      } else {
        available = this.ep.release(this.rxPos, false);
        // Arm the waiter after this tick's sends are flushed (their nextTick was queued
        // first): waking the waiter must not delay a reply on the round-trip path.
        if (!this.paused && !this.armScheduled) {
          this.armScheduled = true;
          process.nextTick(this.arm);
        }
      }
      if (this.peerGone && (this.rxPos === available || this.state === 'closing')) {
        this.finish('peer-gone');
      } else if (this.rxPos >= this.rebaseAt) {
        // Released up to rxPos above, so that is the new zero (the armed waiter keeps the
        // absolute position it was given).
        this.ep.rebase(0, this.rxPos);
        this.rxPos = 0;
      }
    } finally {
      this.draining = false;
    }
  }

  private armScheduled = false;
  private readonly arm = (): void => {
    this.armScheduled = false;
    if (this.state !== 'done' && !this.paused && !this.draining && this.handler !== null) this.ep.release(this.rxPos, true);
  };

  /** Spin mode: one look at the ring per event-loop turn; arms the waiter when the window closes. */
  private readonly poll = (): void => {
    this.polling = false;
    if (this.state === 'done' || this.paused || this.handler === null) return;
    if (this.ep.available(this.rxPos) !== this.rxPos || this.peerGone) this.drainReceived();
    else if (performance.now() < this.pollUntil) {
      this.polling = true;
      setImmediate(this.poll);
    } else this.ep.release(this.rxPos, true);
  };

  /** Reads records up to `available`, stopping early on pause(). false once the link ended. */
  private readUpTo(available: number): boolean {
    const cap = this.cap;
    let pos = this.rxPos;
    let off = this.rxOff;
    if (available < pos || available - pos > cap || available % 8 !== 0) {
      return this.corrupt(`producer position ${available} with consumer at ${pos}`);
    }
    const words = this.words;
    const base = this.rxBase;
    const memory = this.memory;
    const maxFrame = this.options.maxFrame;
    let budget = this.budget;
    // Hand space back to the producer every eighth of the ring, not once per batch: with a
    // full ring, releasing only at the end made the two sides take turns (the producer slept
    // while we read the whole ring, then we slept while it refilled it), idle half the time.
    const stop = available - pos > this.releaseBytes ? pos + this.releaseBytes : available;
    try {
      while (pos < stop && budget-- > 0) {
        const w = (base + off) >>> 2;
        const len = words[w]!;
        const flag = words[w + 1]!;
        // len comes from the other process: bound it before any arithmetic that could wrap
        // (a length near 2^32 would align to 0 and the loop would never advance)
        if (len > cap - off - HDR) {
          return this.corrupt(`a record of ${len} bytes at offset ${off} runs past the ring`);
        }
        const need = HDR + len + ((8 - (len & 7)) & 7);
        if (need > cap - off || pos + need > available || (flag === FLAG_PADDING && off + need !== cap)) {
          return this.corrupt(`a record of ${len} bytes at offset ${off} runs past the ring or the producer position`);
        }
        const at = base + off + HDR;
        pos += need;
        off = off + need === cap ? 0 : off + need;
        if (flag === FLAG_DATA) {
          if (this.state !== 'open') continue; // closing: read and discard, so the peer never blocks on us
          if (len > maxFrame) {
            this.finish('protocol-error', new FrameTooLargeError(len, maxFrame, 'receive'));
            return false;
          }
          this.handler!(new Uint8Array(memory, at, len));
        } else if (flag === FLAG_PADDING) {
          continue;
        } else if (flag === FLAG_PIECE) {
          if (this.state !== 'open') continue;
          if (len < FRAGMENT_HEADER_BYTES) return this.corrupt(`a fragment record of ${len} bytes`);
          this.reassembler ??= new Reassembler(
            // A reliable, ordered ring never loses a piece: nothing may expire while paused.
            { maxFrame, maxPending: 2, maxAgeMs: 2 ** 31 - 1 },
            (frame) => this.handler!(frame),
            (error) => this.finish('protocol-error', error),
          );
          if (!this.reassembler.push(new Uint8Array(memory, at, len))) return false;
        } else {
          return this.corrupt(`a record with unknown flags ${flag}`);
        }
        if (this.paused || this.ended) return !this.ended;
      }
      return true;
    } catch (err) {
      // The handler threw: the application's bug ends this link, and only this link.
      this.finish('error', err instanceof Error ? err : new Error(String(err)));
      return false;
    } finally {
      this.rxPos = pos;
      this.rxOff = off;
      this.budget = budget;
    }
  }

  private corrupt(why: string): false {
    this.finish('protocol-error', new ProtocolError(`shm peer wrote an invalid ring: ${why}`, 'ERR_SHM_CORRUPT'));
    return false;
  }

  /**
   * The peer's end of the liveness socket closed. What it published before is delivered
   * first (later, if paused); then the link ends.
   */
  private onPeerGone(): void {
    if (this.peerGone) return;
    this.peerGone = true;
    if (this.state === 'closing') {
      this.lingerDone?.();
      return;
    }
    if (this.state !== 'open') return;
    if (this.handler !== null && !this.paused) this.drainReceived();
    else if (this.ep.available() === this.rxPos) this.finish('peer-gone');
    // else: paused (or no handler yet) with records waiting: resume()/onFrame() finishes.
  }

  drain(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.queuedBytes < this.options.highWaterMark) return Promise.resolve();
    return this.drainers.wait();
  }

  async close(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      this.flush();
      if (this.queueHead < this.queue.length && !this.peerGone && this.state === 'closing') {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, this.options.lingerMs);
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.lingerDone = done;
        });
      }
      this.finish('closed');
    }
    await this.closed;
  }

  private closedError(): Error {
    return linkClosedError('shm', this.remote, this.reason);
  }

  /** The single ending path. The first reason wins. */
  private finish(kind: CloseKind, error?: Error): void {
    if (this.reason !== null) return;
    if (this.state === 'closing' && kind === 'peer-gone') return; // close() is ending it
    this.reason = error ? { kind, error } : { kind };
    this.state = 'done';
    this.lingerDone = undefined;
    this.ep.close();
    this.queue = [];
    this.queueFlags = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.drainers.fail(this.closedError());
    const s = this.liveness;
    const done = (): void => {
      this.onFinished?.();
      this.resolveClosed(this.reason!);
    };
    if (s.closed) done();
    else {
      s.once('close', done);
      s.destroy();
    }
  }
}
