/**
 * datagram-carrier.ts: the Carrier (core/transport.ts) of the transports whose unit is a
 * bounded datagram or record (msgq, udp): fragmenting and reassembly, credit-based flow
 * control, the datagrams held within credit, heartbeats and liveness probes, stats, and the
 * BYE exchange that ends a link. The link's life (state, `closed`, drain waiters, pause,
 * linger's race, handler exceptions, finish order) is LinkCore's; DatagramLink puts one of
 * these under it.
 *
 * The transport supplies a DatagramPort (how datagrams leave) and hands every datagram
 * addressed to this link to `receive()`; the handshake that creates the link is the
 * transport's. The datagrams are laid out in datagram-wire.ts (docs/PROTOCOL.md §5).
 *
 * Invariants:
 * - Flow control is by credit, in datagrams: the receiver grants `consumed + window`, where
 *   `consumed` passes a DATA only once it has been handed to the reassembler, which a paused
 *   link does not do. So a paused reader backs its peer up after `window` datagrams while its
 *   own transport keeps reading (a shared queue or socket is never blocked by one link), and
 *   what a link holds for a paused reader is bounded by `window` datagrams (`holding`).
 * - On a lossy transport a lost DATA would shrink the window forever; a PING carries the
 *   sender's next dseq, so the receiver counts everything before it as consumed (when it holds
 *   nothing), and a lost CREDIT is repeated by the next PING.
 * - With `pingOnlyWhenBusy` (nats, whose liveness is per process: nats-liveness.ts) PINGs go
 *   only while they can repair something: every period in which DATA was sent or received,
 *   twice more after the last such period, and every period while DATA waits for credit;
 *   a received PING is answered with a CREDIT (at most one per period), so a sender stuck
 *   behind a lost CREDIT is granted again. Loss still never shrinks the window for good:
 *   what the last PINGs fail to repair is repaired by the next DATA's, or while stuck.
 * - Control datagrams (CREDIT, PING) overtake queued DATA (they need no credit; DATA waiting
 *   for credit must never hold back the credit of the other direction). BYE queues behind DATA.
 * - `bufferedAmount` counts frame payload bytes not yet handed to the port.
 * - On a reliable transport (`reliable: true`) a lost frame or a peer exceeding its credit is a
 *   ProtocolError; on a best-effort one, loss is counted in `stats` and excess datagrams are
 *   dropped (and so counted lost).
 * - The peer's BYE is reported (sink.peerGone) when it is processed in order, after the DATA
 *   before it; nothing the peer sends after its BYE counts.
 * - release(): timers stop, the reassembler gives up on incomplete frames (counted), a BYE
 *   goes out of band unless ours is already on the wire or the peer is gone without saying
 *   BYE, then the port is released.
 */
import { PeerGoneError, ProtocolError, TransportError } from '../../errors.js';
import type { Carrier, CarrierSink, CloseKind, LinkStats } from '../core/transport.js';
import {
  DATA_HEADER_BYTES,
  DATA_PAYLOAD_OFFSET,
  encodeBye,
  encodeCredit,
  encodePing,
  KIND_BYE,
  KIND_CREDIT,
  KIND_DATA,
  KIND_PING,
  PING_BYTES,
  CREDIT_BYTES,
  writeDataHeader,
} from './datagram-wire.js';
import { Fragmenter, partialFrames, Reassembler } from './fragment.js';
import { U32, unwrapSerial } from './serial.js';

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

export interface DatagramCarrierInit {
  /** For messages: the transport's scheme and the peer's description. */
  scheme: string;
  remote: string;
  /** A lost frame is a protocol error (msgq), or counted and tolerated (udp). */
  reliable: boolean;
  maxFrame: number;
  port: DatagramPort;
  /** Largest datagram the port carries, header included. */
  maxDatagram: number;
  /** Credit this side grants: DATA datagrams the peer may have in flight to us. */
  window: number;
  /** Credit the peer granted us in the handshake. */
  peerWindow: number;
  /** Heartbeat interval (0: no heartbeats). */
  heartbeatMs?: number;
  /**
   * PINGs only while DATA moves or waits for credit, not while idle (the transport's own
   * liveness, fed through heard(), keeps the silence timer). Default false: every period.
   */
  pingOnlyWhenBusy?: boolean;
  /** Silence after which the peer counts as gone (0: never). */
  peerTimeoutMs?: number;
  /**
   * While this says true, the peer's silence is not held against it (nats: our own client has
   * lost its server, so nothing could reach us); the silence timeout starts over after.
   */
  silenceExcused?: () => boolean;
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

const NO_CLAIM = Buffer.alloc(0);

export class DatagramCarrier implements Carrier {
  private readonly scheme: string;
  private readonly remote: string;
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
  /** The port failed: nothing more is handed to it (but a last BYE is tried). */
  private portDead = false;
  /** The datagram an open claim writes into (its payload at DATA_PAYLOAD_OFFSET). */
  private claimed: Buffer = NO_CLAIM;

  // Receiving.
  private held: Buffer[] = [];
  private heldHead = 0;
  /** processHeld() is on the stack: a handler's resume() inside it must not start another. */
  private processing = false;
  private consumed = 0;
  private granted: number;
  private lastHeard = Date.now();

  // PINGs with pingOnlyWhenBusy (see the header).
  private readonly pingOnlyWhenBusy: boolean;
  private readonly heartbeatMs: number;
  /** DATA was sent or received since the last heartbeat tick. */
  private busy = false;
  /** PINGs still owed after the last busy period. */
  private pingsOwed = 0;
  /** When our grant last left, in a CREDIT or a PING. */
  private grantSentAt = 0;

  // Ending.
  private byeReceived = false;
  /** Our BYE has been handed to the port (not merely queued). */
  private byeSent = false;
  private released = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    init: DatagramCarrierInit,
    private readonly sink: CarrierSink,
  ) {
    this.scheme = init.scheme;
    this.remote = init.remote;
    this.reliable = init.reliable;
    this.port = init.port;
    this.window = init.window;
    this.grant = init.peerWindow;
    this.granted = init.window;
    this.pingOnlyWhenBusy = init.pingOnlyWhenBusy ?? false;
    this.heartbeatMs = init.heartbeatMs ?? 0;
    this.fragmenter = new Fragmenter(init.maxDatagram - DATA_HEADER_BYTES);
    this.reassembler = new Reassembler(
      {
        maxFrame: init.maxFrame,
        // A reliable transport never loses a piece, so nothing may expire there.
        maxAgeMs: this.reliable ? 2 ** 31 : (init.maxAgeMs ?? 2000),
        // Credit bounds the datagrams in flight, but a frame's pieces are many datagrams.
        maxPending: Math.max(1024, init.window),
        // Both sides fragment to the negotiated datagram size: other piece sizes are forged.
        pieceSize: this.fragmenter.pieceSize,
        // The peer is another process that may lie about a frame's size: hold only what came.
        allocateAsReceived: true,
        // Per-link bounds alone let a peer with many links hold their sum: one process-wide cap.
        budget: partialFrames,
      },
      // While the link is closing, LinkCore takes nothing: the frame is read and dropped.
      (frame) => void this.sink.deliver(frame),
      (error) => this.sink.fail('protocol-error', error),
    );

    // Timers run from the start, before any handler is set: the peer needs our heartbeats,
    // and a peer that dies before anyone reads must still end the link.
    const heartbeat = init.heartbeatMs ?? 0;
    if (heartbeat > 0) this.every(heartbeat, () => this.ping());
    const timeout = init.peerTimeoutMs ?? 0;
    if (timeout > 0) {
      const period = Math.max(10, Math.min(heartbeat || timeout, timeout) / 2);
      let lastTick = Date.now();
      const excused = init.silenceExcused;
      this.every(period, () => {
        const now = Date.now();
        const late = now - lastTick > 2 * period + 20;
        lastTick = now;
        // If this process itself was stalled (GC, a long handler), the peer's datagrams are
        // still waiting in our socket: read them before judging the peer.
        if (late) return;
        if (excused?.()) {
          this.lastHeard = now;
          return;
        }
        if (now - this.lastHeard > timeout) {
          this.sink.peerGone(new PeerGoneError(`${this.scheme} peer ${this.remote} was silent for more than ${timeout} ms`));
        }
      });
    }
    if (init.isPeerAlive) {
      const alive = init.isPeerAlive;
      this.every(init.probeMs ?? 200, () => {
        if (!alive()) this.sink.peerGone(new PeerGoneError(`${this.scheme} peer ${this.remote} is gone`));
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

  get memory(): Uint8Array {
    return this.claimed;
  }

  get holding(): boolean {
    return this.heldHead < this.held.length;
  }

  // ---- sending ---------------------------------------------------------------------------

  write(frame: Uint8Array): void {
    const n = frame.length;
    if (n <= this.fragmenter.pieceSize) {
      // The common case, as commit() does it: one datagram, one copy, no list of pieces.
      const d = Buffer.allocUnsafe(DATA_PAYLOAD_OFFSET + n);
      d.set(frame, DATA_PAYLOAD_OFFSET);
      this.fragmenter.writeSingle(d, DATA_HEADER_BYTES, n);
      this.queueData(d, n);
    } else {
      // Each piece comes with room for the DATA header in front: one copy, into the datagram.
      for (const d of this.fragmenter.split(frame, DATA_HEADER_BYTES)) this.queueData(d, d.length - DATA_PAYLOAD_OFFSET);
    }
    this.sentFrames++;
  }

  claim(maxBytes: number): number {
    // A frame of more than one piece is split by write(); it cannot be written in place.
    if (maxBytes > this.fragmenter.pieceSize) return -1;
    this.claimed = Buffer.allocUnsafe(DATA_PAYLOAD_OFFSET + maxBytes);
    return DATA_PAYLOAD_OFFSET;
  }

  commit(length: number): void {
    const end = DATA_PAYLOAD_OFFSET + length;
    const d = end === this.claimed.length ? this.claimed : this.claimed.subarray(0, end);
    this.claimed = NO_CLAIM;
    this.fragmenter.writeSingle(d, DATA_HEADER_BYTES, length);
    this.queueData(d, length);
    this.sentFrames++;
  }

  flush(): void {
    this.pump();
  }

  private queueData(d: Buffer, bytes: number): void {
    const dseq = this.nextDseq++;
    writeDataHeader(d, dseq);
    this.data.push({ datagram: d, dseq, bytes });
    this.buffered += bytes;
  }

  private onGrant(wire: number): void {
    const g = unwrapSerial(wire, this.nextDseq);
    if (g > this.grant) {
      this.grant = g;
      this.schedulePump();
    }
  }

  private ping(): void {
    if (this.released) return;
    if (this.pingOnlyWhenBusy) {
      if (this.busy) {
        this.busy = false;
        this.pingsOwed = 2;
      } else if (this.pingsOwed > 0) {
        this.pingsOwed--;
      } else if (!this.waitingForCredit()) {
        return; // idle: nothing for a PING to repair
      }
    }
    this.grantSentAt = Date.now();
    this.sendControl(encodePing(this.nextDseqSent(), this.granted));
  }

  /** DATA is queued that the peer's grant does not cover yet. */
  private waitingForCredit(): boolean {
    for (let i = this.dataHead; i < this.data.length; i++) {
      const d = this.data[i]!.dseq;
      if (d >= 0) return d >= this.grant;
    }
    return false;
  }

  /**
   * A sign of the peer's life from outside this link (nats: its process's liveness message):
   * the silence timeout starts over.
   */
  heard(): void {
    this.lastHeard = Date.now();
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

  private queuedData(): number {
    return this.data.length - this.dataHead;
  }

  /** For what the carrier queues itself (control, credit that came); LinkCore flushes sends. */
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
    if (this.slowPath || this.pumping || this.released || this.portDead) return;
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
        if (this.released || this.portDead) return;
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
    if (n <= 0) return;
    this.busy = true;
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
    this.sink.drained();
  }

  private portFailed(err: unknown): void {
    this.portDead = true;
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'EIDRM' || e?.code === 'EINVAL' || e?.code === 'ECONNREFUSED') {
      this.sink.peerGone(new PeerGoneError(`${this.scheme} peer ${this.remote} is gone: ${e.code}`, { cause: err }));
    } else {
      this.sink.fail('error', TransportError.fromNode(err, this.remote));
    }
  }

  // ---- receiving -------------------------------------------------------------------------

  /**
   * Takes one datagram addressed to this link (called by the transport, on the JS thread).
   * `datagram` may be a view into a larger buffer; it is not modified.
   */
  receive(datagram: Buffer): void {
    if (this.released) return;
    this.lastHeard = Date.now();
    const kind = datagram[0];
    switch (kind) {
      case KIND_DATA:
      case KIND_BYE:
        if (datagram.length < DATA_HEADER_BYTES) return this.malformed(kind, datagram.length);
        if (this.byeReceived) return; // the peer said it sends nothing more: nothing after counts
        if (this.held.length - this.heldHead >= this.window + 1) {
          // Only a peer that ignores our credit gets here.
          if (this.reliable) {
            this.sink.fail('protocol-error', new ProtocolError(`${this.scheme} peer sent beyond the ${this.window} datagrams of credit it was given`, 'ERR_CREDIT'));
          }
          return; // best-effort: dropped, and the reassembler counts the frame lost
        }
        this.busy = true;
        this.held.push(datagram);
        this.processHeld();
        return;
      case KIND_CREDIT:
        if (datagram.length < CREDIT_BYTES) return this.malformed(kind, datagram.length);
        this.onGrant(datagram.readUInt32BE(1));
        return;
      case KIND_PING:
        if (datagram.length < PING_BYTES) return this.malformed(kind, datagram.length);
        this.onGrant(datagram.readUInt32BE(5));
        // Everything before the peer's next dseq that we do not hold was lost on the way.
        if (this.reading() && !this.holding) this.advanceConsumed(datagram.readUInt32BE(1));
        // A peer that pings only when busy may be stuck behind a CREDIT of ours that was lost:
        // our grant again, unless it left within the last period anyway.
        if (this.pingOnlyWhenBusy && Date.now() - this.grantSentAt >= this.heartbeatMs) {
          this.grantSentAt = Date.now();
          this.sendControl(encodeCredit(this.granted));
        }
        return;
      default:
        this.sink.fail('protocol-error', new ProtocolError(`${this.scheme}: unknown datagram kind 0x${(kind ?? 0).toString(16)} from ${this.remote}`, 'ERR_PROTOCOL'));
    }
  }

  start(): void {
    this.processHeld();
  }

  pause(): void {
    // Nothing to do: processHeld() stops at the next datagram, as sink.paused now says.
  }

  resume(): void {
    this.processHeld();
  }

  /** Held datagrams are taken now: the handler wants frames, or the link is closing and drops them. */
  private reading(): boolean {
    return this.sink.ending || !this.sink.paused;
  }

  private malformed(kind: number, length: number): void {
    this.sink.fail('protocol-error', new ProtocolError(`${this.scheme}: a kind 0x${kind.toString(16)} datagram of ${length} bytes is too short`, 'ERR_PROTOCOL'));
  }

  private processHeld(): void {
    if (this.processing) return; // the loop below goes on once the handler returns
    this.processing = true;
    try {
      // Reading starts when a handler is set; until then, and while paused, datagrams wait
      // (within credit).
      while (this.heldHead < this.held.length && !this.released && this.reading()) {
        const d = this.held[this.heldHead]!;
        this.held[this.heldHead++] = undefined as unknown as Buffer;
        if (this.heldHead > 1024 && this.heldHead * 2 > this.held.length) {
          this.held = this.held.slice(this.heldHead);
          this.heldHead = 0;
        }
        if (d[0] === KIND_BYE) {
          this.onBye();
          return;
        }
        const dseq = d.readUInt32BE(1);
        const lostBefore = this.reassembler.stats.lost;
        this.reassembler.push(d.subarray(DATA_HEADER_BYTES), this.lastHeard);
        if (this.released) return; // the handler threw, or closed the link and it is over
        this.advanceConsumed((dseq + 1) % U32);
        if (this.reliable && this.reassembler.stats.lost !== lostBefore) {
          this.sink.fail('protocol-error', new ProtocolError(`${this.scheme}: a frame from ${this.remote} is missing pieces on a reliable transport`, 'ERR_BAD_FRAGMENT'));
        }
      }
    } finally {
      this.processing = false;
    }
  }

  /** The peer's DATA up to wire dseq `nextWire` (exclusive) is dealt with: grant more. */
  private advanceConsumed(nextWire: number): void {
    const next = unwrapSerial(nextWire, this.consumed);
    if (next <= this.consumed) return;
    this.consumed = next;
    const grant = this.consumed + this.window;
    if (grant - this.granted >= Math.max(1, this.window >> 2)) {
      this.granted = grant;
      this.grantSentAt = Date.now();
      this.sendControl(encodeCredit(grant));
    }
  }

  /**
   * Drops the datagrams held for a paused (or not yet started) reader. For a peer found dead
   * (probe, silence, a port error, the transport's report): its link ends now, as it always
   * has on these transports, rather than after a resume() that may never come.
   */
  discardHeld(): void {
    this.held = [];
    this.heldHead = 0;
  }

  private onBye(): void {
    this.byeReceived = true;
    // The peer sends nothing after its BYE (receive() drops it), so nothing held is still due.
    this.discardHeld();
    // Every frame before it is handed up: the peer's end, in order. (While closing, this cuts
    // the linger short: the peer is done with us.) release() says BYE back.
    this.sink.peerGone(new PeerGoneError(`${this.scheme} peer ${this.remote} closed the link`));
  }

  // ---- ending ----------------------------------------------------------------------------

  async linger(deadline: number): Promise<void> {
    // From now on what arrives is read and dropped, so the peer's own close never waits on our
    // credit; a pause no longer holds anything back.
    this.processHeld();
    // Flush what we queued (the peer keeps granting credit while it reads), then say BYE and
    // wait for the peer's BYE: after it, the peer sends nothing more on this link.
    await this.waitUntil(() => this.queuedData() === 0 || this.byeReceived, deadline);
    if (this.released || this.portDead || this.byeReceived) return;
    this.data.push({ datagram: encodeBye(this.nextDseq), dseq: -1, bytes: 0 });
    this.schedulePump();
    await this.waitUntil(() => this.byeReceived, Math.min(deadline, Date.now() + 1000));
    // A BYE still queued (behind DATA a paused peer gave no credit for) goes out of band in
    // release(): the peer would otherwise stay open forever (msgq has no heartbeat) and its
    // sends would fill a shared queue.
  }

  async release(kind: CloseKind): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const t of this.timers) clearInterval(t);
    this.reassembler.flush();
    this.data.length = 0;
    this.dataHead = 0;
    this.control = [];
    this.buffered = 0;
    this.held = [];
    this.heldHead = 0;
    this.claimed = NO_CLAIM;
    // Tell the peer we are done unless it knows (our BYE is on the wire) or cannot hear it
    // (it went without a BYE). A peer that said BYE waits for ours.
    const bye = !this.byeSent && (kind !== 'peer-gone' || this.byeReceived);
    if (bye) await this.sayBye(); // never rejects
    try {
      await this.port.release(kind);
    } catch {
      // The contract: release never throws, and `closed` resolves regardless. A port that
      // failed to free something has nothing more to tell this link.
    }
  }

  /** A last BYE, out of band and best effort: at most the slow path's bound of waiting for room. */
  private sayBye(): Promise<void> {
    const b = encodeBye(this.nextDseq);
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

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** Resolves when `done()` holds (checked every few ms), the deadline passes, or sending is over. */
  private waitUntil(done: () => boolean, deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (done() || this.released || this.portDead || Date.now() >= deadline) resolve();
        else setTimeout(check, 2);
      };
      check();
    });
  }
}
