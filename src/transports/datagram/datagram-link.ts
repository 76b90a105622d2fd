/**
 * datagram-link.ts: the one Link implementation for transports whose unit is a bounded
 * datagram or record (msgq, udp; usable by shm): fragmentation, credit-based flow control,
 * pause, heartbeats or liveness probes, stats, and the one ending path.
 *
 * The transport supplies a DatagramPort (how datagrams leave) and calls `receive()` with each
 * datagram addressed to this link; the handshake that creates the link is the transport's.
 *
 * Every datagram starts with a one-byte kind (docs/PROTOCOL.md §5):
 *
 *   DATA   0x01 | dseq u32 | fragment piece (fragment.ts: 16-byte header + payload)
 *   CREDIT 0x02 | grant u32                  "you may send DATA with dseq < grant"
 *   BYE    0x03 | next u32                   "I sent DATA up to next-1 and will send no more"
 *   PING   0x04 | next u32 | grant u32       heartbeat: liveness, and lost CREDITs repaired
 *
 * Invariants:
 * - Flow control is by credit, in datagrams: the receiver grants `consumed + window`, where
 *   `consumed` passes a DATA only once it has been handed to the reassembler, which a paused
 *   link does not do. So a paused reader backs its peer up after `window` datagrams while its
 *   own transport keeps reading (a shared queue or socket is never blocked by one link), and
 *   what a link holds for a paused reader is bounded by `window` datagrams.
 * - On a lossy transport a lost DATA would shrink the window forever; a PING carries the
 *   sender's next dseq, so the receiver counts everything before it as consumed (when it is
 *   not paused), and a lost CREDIT is repeated by the next PING.
 * - Control datagrams (CREDIT, PING) overtake queued DATA (they need no credit; DATA waiting
 *   for credit must never hold back the credit of the other direction). BYE queues behind DATA.
 * - `bufferedAmount` counts frame payload bytes not yet handed to the port.
 * - On a reliable transport (`reliable: true`) a lost frame or a peer exceeding its credit is a
 *   ProtocolError; on a best-effort one, loss is counted in `stats` and excess datagrams are
 *   dropped (and so counted lost).
 * - Every ending goes through finish(): timers stop, drainers reject, the reassembler gives up
 *   on incomplete frames (counted), a BYE is sent unless the peer is gone, then the port is
 *   released and only then does `closed` resolve.
 */
import { FrameTooLargeError, PeerGoneError, ProtocolError } from '../../errors.js';
import { linkClosedError, sendOnClosedError } from '../core/closed-errors.js';
import { DrainWaiters } from '../core/drain-waiters.js';
import { Fragmenter, FRAGMENT_HEADER_BYTES, Reassembler } from './fragment.js';
import { U32, unwrapSerial as unwrap } from './serial.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { CloseKind, CloseReason, Link, LinkCapabilities, LinkStats } from '../core/transport.js';

export const KIND_DATA = 0x01;
export const KIND_CREDIT = 0x02;
export const KIND_BYE = 0x03;
export const KIND_PING = 0x04;
/** Bytes before the fragment header in a DATA datagram. */
export const DATA_HEADER_BYTES = 5;
/** The smallest datagram that can carry a DATA with one payload byte. */
export const MIN_DATAGRAM = DATA_HEADER_BYTES + FRAGMENT_HEADER_BYTES + 1;

/** How datagrams leave, supplied by the transport. */
export interface DatagramPort {
  /** Sends `datagrams[start..]` in order without waiting; returns how many went. */
  trySend(datagrams: readonly Buffer[], start: number): number;
  /**
   * The slow path, after trySend() took fewer than all: sends some of `datagrams[start..]`
   * (possibly none) as room appears, then calls `done` once it is worth calling trySend()
   * again. An error means the port is unusable.
   */
  sendLater(datagrams: readonly Buffer[], start: number, done: (error: Error | null, sent: number) => void): void;
  /** Releases what the port owns for this link; called once, at the end. */
  release(kind: CloseKind): Promise<void>;
}

export interface DatagramLinkInit {
  scheme: string;
  remote: string;
  capabilities: Omit<LinkCapabilities, 'maxFrame'>;
  options: ResolvedLinkOptions;
  port: DatagramPort;
  /** Largest datagram the port carries, header included. */
  maxDatagram: number;
  /** Credit this side grants: DATA datagrams the peer may have in flight to us. */
  window: number;
  /** Credit the peer granted us in the handshake. */
  peerWindow: number;
  /** Heartbeat interval (0: no heartbeats). */
  heartbeatMs?: number;
  /** Silence after which the peer counts as gone (0: never). */
  peerTimeoutMs?: number;
  /** Probed every `probeMs`: false means the peer is gone (e.g. its pid no longer exists). */
  isPeerAlive?: () => boolean;
  probeMs?: number;
  /** How long a best-effort link waits for a frame's missing pieces. Default 2000 ms. */
  maxAgeMs?: number;
}

interface Outgoing {
  readonly datagram: Buffer;
  /** Unwrapped dseq for DATA, -1 for BYE. */
  readonly dseq: number;
  /** Frame payload bytes this datagram carries (for bufferedAmount). */
  readonly bytes: number;
}

export class DatagramLink implements Link {
  readonly scheme: string;
  readonly remote: string;
  readonly capabilities: LinkCapabilities;
  readonly closed: Promise<CloseReason>;

  private readonly options: ResolvedLinkOptions;
  private readonly port: DatagramPort;
  private readonly reliable: boolean;
  private readonly window: number;
  private readonly fragmenter: Fragmenter;
  private readonly reassembler: Reassembler;
  private sentFrames = 0;

  // Sending.
  private nextDseq = 0;
  private grant: number;
  private readonly data: Outgoing[] = [];
  private dataHead = 0;
  private control: Buffer[] = [];
  private buffered = 0;
  private pumping = false;
  private pumpScheduled = false;
  private slowPath = false;
  private readonly drainers = new DrainWaiters();

  // Receiving.
  private handler: ((frame: Uint8Array) => void) | null = null;
  private paused = false;
  private held: Buffer[] = [];
  private heldHead = 0;
  private consumed = 0;
  private granted: number;
  private lastHeard = Date.now();

  private state: 'open' | 'closing' | 'done' = 'open';
  private reason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private byeReceived = false;
  /** Our BYE has been handed to the port (not merely queued). */
  private byeSent = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(init: DatagramLinkInit) {
    this.scheme = init.scheme;
    this.remote = init.remote;
    this.options = init.options;
    this.capabilities = Object.freeze({ ...init.capabilities, maxFrame: init.options.maxFrame });
    this.reliable = init.capabilities.reliable;
    this.port = init.port;
    this.window = init.window;
    this.grant = init.peerWindow;
    this.granted = init.window;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.fragmenter = new Fragmenter(init.maxDatagram - DATA_HEADER_BYTES);
    this.reassembler = new Reassembler(
      {
        maxFrame: init.options.maxFrame,
        // A reliable transport never loses a piece, so nothing may expire there.
        maxAgeMs: this.reliable ? 2 ** 31 : (init.maxAgeMs ?? 2000),
        // Credit bounds the datagrams in flight, but a frame's pieces are many datagrams.
        maxPending: Math.max(1024, init.window),
        // Both sides fragment to the negotiated datagram size: other piece sizes are forged.
        pieceSize: this.fragmenter.pieceSize,
        // The peer is another process that may lie about a frame's size: hold only what came.
        allocateAsReceived: true,
      },
      (frame) => this.deliver(frame),
      (error) => this.finish('protocol-error', error),
    );

    const heartbeat = init.heartbeatMs ?? 0;
    if (heartbeat > 0) this.every(heartbeat, () => this.ping());
    const timeout = init.peerTimeoutMs ?? 0;
    if (timeout > 0) {
      const period = Math.max(10, Math.min(heartbeat || timeout, timeout) / 2);
      let lastTick = Date.now();
      this.every(period, () => {
        const now = Date.now();
        const late = now - lastTick > 2 * period + 20;
        lastTick = now;
        // If this process itself was stalled (GC, a long handler), the peer's datagrams are
        // still waiting in our socket: read them before judging the peer.
        if (late) return;
        if (now - this.lastHeard > timeout) {
          this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer ${this.remote} was silent for more than ${timeout} ms`));
        }
      });
    }
    if (init.isPeerAlive) {
      const alive = init.isPeerAlive;
      this.every(init.probeMs ?? 200, () => {
        if (!alive()) this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer ${this.remote} is gone`));
      });
    }
    if (!this.reliable) this.every(Math.max(50, (init.maxAgeMs ?? 2000) / 4), () => this.reassembler.sweep());
  }

  /** The peer said BYE: it sends nothing more on this link. */
  get peerSaidBye(): boolean {
    return this.byeReceived;
  }

  /** Frame counters (exact). */
  get stats(): LinkStats {
    const r = this.reassembler.stats;
    return { sent: this.sentFrames, received: r.received, lost: r.lost, expired: r.expired, reordered: r.reordered, duplicates: r.duplicates };
  }

  get bufferedAmount(): number {
    return this.buffered;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open') throw sendOnClosedError(this.scheme, this.remote, this.reason);
    if (frame.byteLength > this.options.maxFrame) throw new FrameTooLargeError(frame.byteLength, this.options.maxFrame, 'send');
    for (const piece of this.fragmenter.split(frame)) {
      const d = Buffer.allocUnsafe(DATA_HEADER_BYTES + piece.length);
      d[0] = KIND_DATA;
      const dseq = this.nextDseq++;
      d.writeUInt32BE(dseq % U32, 1);
      piece.copy(d, DATA_HEADER_BYTES);
      const bytes = piece.length - FRAGMENT_HEADER_BYTES;
      this.data.push({ datagram: d, dseq, bytes });
      this.buffered += bytes;
    }
    this.sentFrames++;
    this.schedulePump();
    return this.buffered < this.options.highWaterMark;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    const first = this.handler === null;
    this.handler = handler;
    if (first) this.processHeld();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.processHeld();
  }

  drain(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.buffered < this.options.highWaterMark) return Promise.resolve();
    return this.drainers.wait();
  }

  async close(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      const deadline = Date.now() + this.options.lingerMs;
      // Flush what we queued (the peer keeps granting credit while it reads), then say BYE
      // and wait for the peer's BYE: after it, the peer sends nothing more on this link.
      await this.waitUntil(() => this.queuedData() === 0 || this.byeReceived, deadline);
      if (this.reason === null && !this.byeReceived) {
        this.enqueueBye();
        await this.waitUntil(() => this.byeReceived, Math.min(deadline, Date.now() + 1000));
      }
      // Our BYE must reach the peer even if it sat behind DATA the peer never gave credit for
      // (a paused peer): finish() then sends it out of band, or the peer would stay open
      // forever (msgq has no heartbeat) and its sends would fill the shared queue.
      this.finish('closed', undefined, !this.byeSent);
    }
    await this.closed;
  }

  /**
   * Takes one datagram addressed to this link (called by the transport, on the JS thread).
   * `datagram` may be a view into a larger buffer; it is not modified.
   */
  receive(datagram: Buffer): void {
    if (this.state === 'done') return;
    this.lastHeard = Date.now();
    const kind = datagram[0];
    switch (kind) {
      case KIND_DATA:
      case KIND_BYE:
        if (datagram.length < DATA_HEADER_BYTES) return this.malformed(kind, datagram.length);
        if (this.held.length - this.heldHead >= this.window + 1) {
          // Only a peer that ignores our credit gets here.
          if (this.reliable) {
            this.finish('protocol-error', new ProtocolError(`${this.scheme} peer sent beyond the ${this.window} datagrams of credit it was given`, 'ERR_CREDIT'));
          }
          return; // best-effort: dropped, and the reassembler counts the frame lost
        }
        this.held.push(datagram);
        this.processHeld();
        return;
      case KIND_CREDIT:
        if (datagram.length < 5) return this.malformed(kind, datagram.length);
        this.onGrant(datagram.readUInt32BE(1));
        return;
      case KIND_PING:
        if (datagram.length < 9) return this.malformed(kind, datagram.length);
        this.onGrant(datagram.readUInt32BE(5));
        if (!this.paused && this.heldHead === this.held.length) this.advanceConsumed(datagram.readUInt32BE(1));
        return;
      default:
        this.finish('protocol-error', new ProtocolError(`${this.scheme}: unknown datagram kind 0x${(kind ?? 0).toString(16)} from ${this.remote}`, 'ERR_PROTOCOL'));
    }
  }

  /** The peer went away (the transport saw it: queue removed, pid gone, ICMP unreachable). */
  peerGone(error?: Error): void {
    this.finish('peer-gone', error ?? new PeerGoneError(`${this.scheme} peer ${this.remote} is gone`));
  }

  /** A local failure found by the transport (e.g. the receive thread ended with an errno). */
  fail(error: Error): void {
    this.finish('error', error);
  }

  // ---- receiving -------------------------------------------------------------------------

  private malformed(kind: number, length: number): void {
    this.finish('protocol-error', new ProtocolError(`${this.scheme}: a kind 0x${kind.toString(16)} datagram of ${length} bytes is too short`, 'ERR_PROTOCOL'));
  }

  private processHeld(): void {
    // Reading starts when a handler is set; until then datagrams wait (within credit).
    while (this.handler !== null && !this.paused && this.heldHead < this.held.length && this.state !== 'done') {
      const d = this.held[this.heldHead]!;
      this.held[this.heldHead++] = undefined as unknown as Buffer;
      if (this.heldHead > 1024 && this.heldHead * 2 > this.held.length) {
        this.held = this.held.slice(this.heldHead);
        this.heldHead = 0;
      }
      const dseq = d.readUInt32BE(1);
      if (d[0] === KIND_BYE) {
        this.onBye();
        return;
      }
      const lostBefore = this.reassembler.stats.lost;
      this.reassembler.push(d.subarray(DATA_HEADER_BYTES));
      this.advanceConsumed((dseq + 1) % U32);
      if (this.reliable && this.reassembler.stats.lost !== lostBefore && this.reason === null) {
        this.finish('protocol-error', new ProtocolError(`${this.scheme}: a frame from ${this.remote} is missing pieces on a reliable transport`, 'ERR_BAD_FRAGMENT'));
      }
    }
  }

  private deliver(frame: Buffer): void {
    if (this.state !== 'open') return; // closing: the peer's frames are read and dropped
    try {
      this.handler!(frame);
    } catch (err) {
      this.finish('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The peer's DATA up to wire dseq `next` (exclusive) is dealt with: grant more. */
  private advanceConsumed(nextWire: number): void {
    const next = unwrap(nextWire, this.consumed);
    if (next <= this.consumed) return;
    this.consumed = next;
    const grant = this.consumed + this.window;
    if (grant - this.granted >= Math.max(1, this.window >> 2)) {
      this.granted = grant;
      const c = Buffer.allocUnsafe(5);
      c[0] = KIND_CREDIT;
      c.writeUInt32BE(grant % U32, 1);
      this.sendControl(c);
    }
  }

  private onBye(): void {
    this.byeReceived = true;
    if (this.state === 'closing') return; // close() is waiting for this
    // Say BYE back, so the closing side knows nothing more of ours is on the way.
    this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer ${this.remote} closed the link`), true);
  }

  // ---- sending ---------------------------------------------------------------------------

  private onGrant(wire: number): void {
    const g = unwrap(wire, this.nextDseq);
    if (g > this.grant) {
      this.grant = g;
      this.schedulePump();
    }
  }

  private ping(): void {
    if (this.state === 'done') return;
    const p = Buffer.allocUnsafe(9);
    p[0] = KIND_PING;
    p.writeUInt32BE(this.nextDseqSent() % U32, 1);
    p.writeUInt32BE(this.granted % U32, 5);
    this.sendControl(p);
  }

  /** The dseq of the first DATA not yet handed to the port. */
  private nextDseqSent(): number {
    for (let i = this.dataHead; i < this.data.length; i++) if (this.data[i]!.dseq >= 0) return this.data[i]!.dseq;
    return this.nextDseq;
  }

  private sendControl(datagram: Buffer): void {
    this.control.push(datagram);
    this.schedulePump();
  }

  private enqueueBye(): void {
    const b = Buffer.allocUnsafe(5);
    b[0] = KIND_BYE;
    b.writeUInt32BE(this.nextDseq % U32, 1);
    this.data.push({ datagram: b, dseq: -1, bytes: 0 });
    this.schedulePump();
  }

  private queuedData(): number {
    return this.data.length - this.dataHead;
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.slowPath) return;
    this.pumpScheduled = true;
    process.nextTick(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Hands the port every control datagram, then DATA within credit, in order. */
  private pump(): void {
    if (this.slowPath || this.pumping || this.reason !== null) return;
    this.pumping = true;
    try {
      const batch: Buffer[] = this.control;
      const nControl = batch.length;
      this.control = [];
      let i = this.dataHead;
      for (; i < this.data.length; i++) {
        const o = this.data[i]!;
        if (o.dseq >= 0 && o.dseq >= this.grant) break;
        batch.push(o.datagram);
      }
      if (batch.length === 0) return;
      let sent: number;
      try {
        sent = this.port.trySend(batch, 0);
      } catch (err) {
        this.portFailed(err);
        return;
      }
      const dataFast = Math.max(0, sent - nControl);
      this.takeData(dataFast);
      if (sent === batch.length) return;
      // The rest goes through the slow path; until it reports, nothing else is sent, so the
      // order on the wire stays the queue's order.
      this.slowPath = true;
      this.port.sendLater(batch, sent, (error, more) => {
        this.slowPath = false;
        if (this.reason !== null) return;
        if (error) return this.portFailed(error);
        const total = sent + more;
        this.takeData(Math.max(0, total - nControl) - dataFast);
        if (total < nControl) this.control = batch.slice(total, nControl).concat(this.control);
        this.schedulePump();
      });
    } finally {
      this.pumping = false;
    }
  }

  /** The first `n` queued DATA/BYE datagrams are on the wire. */
  private takeData(n: number): void {
    while (n-- > 0) {
      const o = this.data[this.dataHead]!;
      this.data[this.dataHead++] = undefined as unknown as Outgoing;
      this.buffered -= o.bytes;
      if (o.dseq < 0) this.byeSent = true; // only now is it on the wire
    }
    if (this.dataHead > 1024 && this.dataHead * 2 > this.data.length) {
      this.data.splice(0, this.dataHead);
      this.dataHead = 0;
    }
    if (this.buffered < this.options.highWaterMark) this.drainers.wake();
  }

  private portFailed(err: unknown): void {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'EIDRM' || e?.code === 'EINVAL' || e?.code === 'ECONNREFUSED') {
      this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer ${this.remote} is gone: ${e.code}`, { cause: err }));
    } else {
      this.finish('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  // ---- ending ----------------------------------------------------------------------------

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Resolves when `done()` holds (checked every few ms), the deadline passes, or the link ends. */
  private waitUntil(done: () => boolean, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done() || this.reason !== null || Date.now() >= deadline) resolve();
        else setTimeout(check, 2);
      };
      check();
    });
  }

  private closedError(): Error {
    return linkClosedError(this.scheme, this.remote, this.reason);
  }

  /**
   * The single ending path. The first reason wins. `bye`: tell the peer (not when it is
   * gone; by default whenever it may still be listening).
   */
  private finish(kind: CloseKind, error?: Error, bye = kind !== 'peer-gone'): void {
    if (this.reason !== null) return;
    this.reason = error ? { kind, error } : { kind };
    this.state = 'done';
    for (const t of this.timers) clearInterval(t);
    this.reassembler.flush();
    this.drainers.fail(this.closedError());
    this.data.length = 0;
    this.dataHead = 0;
    this.buffered = 0;
    this.held = [];
    this.heldHead = 0;
    void (async () => {
      if (bye) await this.sayBye();
      try {
        await this.port.release(kind);
      } finally {
        this.resolveClosed(this.reason!);
      }
    })();
  }

  /** A last BYE, best effort: at most ~100 ms of waiting for room. */
  private sayBye(): Promise<void> {
    const b = Buffer.allocUnsafe(5);
    b[0] = KIND_BYE;
    b.writeUInt32BE(this.nextDseq % U32, 1);
    return new Promise((resolve) => {
      const wait = (): void => {
        // The slow path may still be busy with our last batch; it finishes within its own bound.
        if (this.slowPath) return void setTimeout(wait, 2);
        try {
          if (this.port.trySend([b], 0) === 1) return resolve();
          this.port.sendLater([b], 0, () => resolve());
        } catch {
          resolve();
        }
      };
      wait();
    });
  }
}
