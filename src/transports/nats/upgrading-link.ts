/**
 * upgrading-link.ts: a nats link between two ends on one host (and uid) that moves its
 * traffic to a local unix socket once both ends have it, and back to NATS if that socket
 * fails (PROTOCOL.md §9, "Same-host upgrade"). The bus sees one Link throughout: its refs,
 * asks and streams carry on across either move.
 *
 * It owns the NatsLink (which it hands out to nobody) and, once upgraded, the local Link.
 * On NATS every frame carries a 1-byte prefix (DATA: sent before any switch; AFTER_LOCAL:
 * sent after the local link ended; FALLBACK(n): control, the frames its sender put on the
 * local link), written in place with claim(max + 1) and stripped with subarray(1). The local
 * link carries, after the rendezvous's hello and "SYOK" (local-rendezvous.ts), a SWITCH(n)
 * marker each way ("I sent n DATA frames on NATS before this"), then raw frames.
 *
 * Invariants (per direction):
 * - Order: the receiver hands up NATS DATA frames until n of them are delivered or counted
 *   lost (the NatsLink's stats, or after CATCH_UP_MS whatever is still missing), and only
 *   then the local frames, which wait (paused) until then; AFTER_LOCAL frames wait until its
 *   own local link has ended. A DATA frame that comes after its place was given up is dropped
 *   (it was counted lost then). So no frame is ever handed up before one sent earlier.
 * - Loss is counted, never silent: `stats.lost` = the NatsLink's, plus DATA given up at the
 *   switch, plus the local frames a FALLBACK says were sent and never arrived.
 * - The NatsLink's end is the link's end (the local link is closed with it); the local
 *   link's end is only a fall back to NATS. There is at most one local link per link, ever.
 * - close() closes the local link first (flushing it), then the NatsLink; the rendezvous's
 *   offer is released at the latest then, so its socket and directory go with their last user.
 */
import { FrameTooLargeError, ProtocolError, TransportError } from '../../errors.js';
import { sendOnClosedError } from '../core/closed-errors.js';
import { SingleBatch } from '../core/link-core.js';
import type { CloseReason, FrameBatch, Link, LinkCapabilities, LinkStats } from '../core/transport.js';
import { ackFrame, acquireRendezvous, dialRendezvous, isAck } from './local-rendezvous.js';
import type { NatsLink } from './nats-link.js';
import { encodeUpgradeWelcome, randomNonce, upgradeTuning, type UpgradeOffer } from './upgrade-offer.js';

/** Frame prefixes on NATS. */
const P_DATA = 0;
const P_AFTER_LOCAL = 1;
const P_FALLBACK = 2;
const SWITCH = Buffer.from('SYSW', 'latin1');
const COUNT_BYTES = 6;
/** How long a receiver waits for the NATS frames sent before a SWITCH (then: counted lost). */
/** What a delivered slot of `out` holds until the queue is emptied. */
const EMPTY = new Uint8Array(0);
const CATCH_UP_MS = 1000;
const CATCH_UP_POLL_MS = 5;
/** How long a receiver told FALLBACK waits for its own end of the local link to end too. */
const FALLBACK_WAIT_MS = 1000;
/** How long the local link may go on delivering after the NatsLink ended (the peer's last frames). */
const LOCAL_TAIL_MS = 100;

/** Where this end sends its frames now. */
export type LinkPath = 'nats' | 'local';

type Stage = 'nats' | 'switching' | 'local' | 'fallback';

function counted(tag: Uint8Array, n: number): Buffer {
  const b = Buffer.alloc(tag.length + COUNT_BYTES);
  b.set(tag, 0);
  b.writeUIntBE(n, tag.length, COUNT_BYTES);
  return b;
}

function readCount(f: Uint8Array, at: number): number {
  if (f.length !== at + COUNT_BYTES) return -1;
  return Buffer.from(f.buffer, f.byteOffset, f.byteLength).readUIntBE(at, COUNT_BYTES);
}

/**
 * The NatsLink's reason, with a frame size error told in the sizes the application sees (a
 * link ends on a size error only for a frame received: a send of one throws instead).
 */
function withoutPrefix(reason: CloseReason): CloseReason {
  const e = reason.error;
  if (!(e instanceof FrameTooLargeError)) return reason;
  return { kind: reason.kind, error: new FrameTooLargeError(e.size - 1, e.maxFrame - 1, 'receive') };
}


export class UpgradingLink implements Link {
  readonly scheme = 'nats';
  readonly capabilities: LinkCapabilities;
  readonly remote: string;
  readonly closed: Promise<CloseReason>;

  private local: Link | undefined;
  private localAlive = false;
  private localEndSeen = false;
  /** What the next local frame is: the listener's "SYOK", a SWITCH, or data. */
  private localNext: 'ack' | 'switch' | 'data' = 'ack';
  private settled = false;
  private closing: Promise<void> | undefined;
  private ended = false;
  private failure: CloseReason | undefined;
  private releaseOffer: (() => Promise<void>) | undefined;
  /** The local socket offered (listener) or dialled (client), if any: for tests and logs. */
  rendezvousPath: string | undefined;

  private sendOn: 'nats' | 'local' | 'after' = 'nats';
  private natsDataSent = 0;
  private localSent = 0;
  private sent = 0;
  private claimOn: 'local' | typeof P_DATA | typeof P_AFTER_LOCAL | undefined;
  /** The room an open claim on the local link gave (read back if that link ends before the commit). */
  private localRoom: Uint8Array | undefined;
  private switchDeferred = false;

  private stage: Stage = 'nats';
  private sawSwitch = false;
  private natsSeen = 0;
  private switchAt = 0;
  private localReceived = 0;
  private peerLocalSent = -1;
  private received = 0;
  private lostExtra = 0;
  private readonly heldLocal: Uint8Array[] = [];
  private readonly heldAfter: Uint8Array[] = [];
  /** Frames waiting for the application (paused, or not started): out[outHead..]. */
  private out: Uint8Array[] = [];
  private outHead = 0;
  /** The local link may carry frames above this link's maxFrame (the listener's: accepted before we knew whose). */
  private checkLocalSize = false;
  private frameHandler: ((frame: Uint8Array) => void) | undefined;
  private batchHandler: ((batch: FrameBatch) => void) | undefined;
  private readonly one = new SingleBatch();
  private started = false;
  private userPaused = false;
  private natsPaused = false;
  private localPaused = false;
  private catchUp: NodeJS.Timeout | undefined;
  private fallbackWait: NodeJS.Timeout | undefined;

  private constructor(
    private readonly nats: NatsLink,
    maxFrame: number,
  ) {
    this.remote = nats.remote;
    this.capabilities = { ...nats.capabilities, maxFrame };
    this.closed = nats.closed.then(async (reason) => {
      this.ended = true;
      this.stopTimers();
      await this.releaseOffer?.();
      const local = this.local;
      if (local && this.localAlive && reason.kind !== 'closed') {
        // The peer's last frames on the local link may still be on their way.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([local.closed, new Promise((r) => (timer = setTimeout(r, LOCAL_TAIL_MS)))]);
        clearTimeout(timer);
      }
      await local?.close();
      return this.failure ?? withoutPrefix(reason);
    });
  }

  /** The listener's end: registers the offer and returns the WELCOME's upgrade entry. */
  static async offer(nats: NatsLink, linkId: string, maxFrame: number, timeoutMs: number): Promise<{ link: UpgradingLink; extension: Buffer }> {
    const link = new UpgradingLink(nats, maxFrame);
    const nonce = randomNonce();
    const r = await acquireRendezvous(linkId, nonce, (local) => link.adopt(local, true));
    link.releaseOffer = r.release;
    link.rendezvousPath = r.path;
    // A client that cannot reach the path (another mount namespace) never comes: stop waiting.
    setTimeout(() => {
      void r.release();
      link.settled = true;
    }, timeoutMs).unref();
    if (link.ended) await r.release();
    return { link, extension: encodeUpgradeWelcome({ nonce, path: r.path }) };
  }

  /** The client's end: tries the listener's local socket in the background. */
  static dial(nats: NatsLink, linkId: string, offer: UpgradeOffer | null, maxFrame: number, timeoutMs: number): UpgradingLink {
    const link = new UpgradingLink(nats, maxFrame);
    if (offer === null) {
      link.settled = true; // an offer we cannot use (malformed, another host): on NATS for good
      return link;
    }
    link.rendezvousPath = offer.path;
    const nonce = upgradeTuning.wrongNonce ? Buffer.alloc(offer.nonce.length) : offer.nonce;
    dialRendezvous(offer.path, linkId, nonce, maxFrame, timeoutMs).then(
      (local) => link.adopt(local, false),
      () => (link.settled = true), // path gone, refused, another mount namespace: stay on NATS
    );
    return link;
  }

  /** The NatsLink's: its liveness goes on over NATS whichever path the data takes. */
  get ownLiveness(): boolean {
    return this.nats.ownLiveness;
  }

  /** Where this end sends now: 'local' once upgraded (and not fallen back). */
  get path(): LinkPath {
    return this.sendOn === 'local' ? 'local' : 'nats';
  }

  /** Whether the upgrade is decided: switched, refused, failed, or given up. */
  get upgradeSettled(): boolean {
    return this.settled;
  }

  /** Test seam: ends the local link as a failure would, to exercise the fall back. */
  async dropLocal(): Promise<void> {
    await this.local?.close();
  }

  get stats(): LinkStats {
    const s = this.nats.stats!;
    return { sent: this.sent, received: this.received, lost: s.lost + this.lostExtra, expired: s.expired, reordered: s.reordered, duplicates: s.duplicates };
  }

  get bufferedAmount(): number {
    return this.sendOn === 'local' ? this.local!.bufferedAmount : this.nats.bufferedAmount;
  }

  drain(): Promise<void> {
    if (this.sendOn === 'local') return this.local!.drain().catch(() => this.nats.drain());
    return this.nats.drain();
  }

  // ---- sending

  send(frame: Uint8Array): boolean {
    this.checkNoClaim();
    const maxFrame = this.capabilities.maxFrame;
    if (frame.length > maxFrame) throw new FrameTooLargeError(frame.length, maxFrame, 'send');
    if (this.closing) throw sendOnClosedError(this.scheme, this.remote, this.failure ?? null);
    if (this.sendOn === 'local') {
      try {
        const more = this.local!.send(frame);
        this.localSent++;
        this.sent++;
        return more;
      } catch (err) {
        if (!(err instanceof TransportError) || err.code !== 'ERR_LINK_CLOSED') throw err;
        this.localEnded(); // its `closed` has not run yet: fall back now, then send on NATS
      }
    }
    const prefix = this.sendOn === 'nats' ? P_DATA : P_AFTER_LOCAL;
    const room = this.nats.claim(frame.length + 1);
    let more: boolean;
    if (room) {
      room[0] = prefix;
      room.set(frame, 1);
      more = this.nats.commit(frame.length + 1);
    } else {
      const b = Buffer.allocUnsafe(frame.length + 1);
      b[0] = prefix;
      b.set(frame, 1);
      more = this.nats.send(b);
    }
    if (prefix === P_DATA) this.natsDataSent++;
    this.sent++;
    return more;
  }

  claim(maxBytes: number): Uint8Array | null {
    if (!Number.isInteger(maxBytes) || maxBytes < 0) throw new RangeError(`claim() needs a whole number of bytes, not ${maxBytes}`);
    if (this.closing) throw sendOnClosedError(this.scheme, this.remote, this.failure ?? null);
    this.checkNoClaim();
    const maxFrame = this.capabilities.maxFrame;
    if (maxBytes > maxFrame) throw new FrameTooLargeError(maxBytes, maxFrame, 'send');
    if (this.sendOn === 'local') {
      try {
        const room = this.local!.claim!(maxBytes);
        if (room) {
          this.claimOn = 'local';
          this.localRoom = room;
        }
        return room;
      } catch (err) {
        if (!(err instanceof TransportError) || err.code !== 'ERR_LINK_CLOSED') throw err;
        this.localEnded(); // closing under us: fall back now, and claim on NATS
      }
    }
    const room = this.nats.claim(maxBytes + 1);
    if (!room) return null;
    const prefix = this.sendOn === 'nats' ? P_DATA : P_AFTER_LOCAL;
    room[0] = prefix;
    this.claimOn = prefix;
    return room.subarray(1);
  }

  commit(length: number): boolean {
    const on = this.claimOn;
    if (on === undefined) return this.nats.commit(length); // throws ERR_NO_CLAIM
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`commit() needs a whole number of bytes, not ${length}`);
    let more: boolean;
    // The claim stays open if the commit throws (a length above the claim): as on any link.
    if (on === 'local') {
      const room = this.localRoom!;
      if (length > room.length) throw new RangeError(`commit() of ${length} bytes, but ${room.length} were claimed`);
      this.localRoom = undefined;
      if (this.sendOn !== 'local') {
        // The local link ended between the claim and this commit (its FALLBACK is already
        // sent): the frame goes on NATS after it, as every later one does, not into a closed link.
        this.claimOn = undefined;
        return this.send(room.subarray(0, length));
      }
      more = this.local!.commit!(length);
      this.localSent++;
    } else {
      more = this.nats.commit(length + 1);
      if (on === P_DATA) this.natsDataSent++;
    }
    this.claimOn = undefined;
    this.sent++;
    if (this.switchDeferred) {
      this.switchDeferred = false;
      this.switchSending();
    }
    return more;
  }

  /** As on every link: no send() or claim() between a claim() and its commit(). */
  private checkNoClaim(): void {
    if (this.claimOn !== undefined) throw new TransportError('ERR_CLAIM_OPEN', `a claim() on this ${this.scheme} link is not committed yet`, { address: this.remote });
  }

  /** From now on, this end sends on the local link, after saying how many went on NATS. */
  private switchSending(): void {
    if (this.claimOn !== undefined) {
      this.switchDeferred = true; // never between a claim and its commit
      return;
    }
    if (!this.localAlive || this.closing) return;
    this.local!.send(counted(SWITCH, this.natsDataSent));
    this.sendOn = 'local';
    this.settled = true;
  }

  // ---- the local link

  /** A local link for this link: the listener's (already proven) or the client's (to be accepted). */
  private adopt(local: Link, listenerEnd: boolean): void {
    if (this.local || this.closing || this.ended) {
      void local.close();
      return;
    }
    void this.releaseOffer?.();
    this.local = local;
    this.localAlive = true;
    this.checkLocalSize = local.capabilities.maxFrame > this.capabilities.maxFrame;
    local.onFrames!((batch) => this.onLocalBatch(batch));
    void local.closed.then((reason) => {
      // A peer that breaks the local protocol ends the link; any other end is a fall back.
      if (reason.kind === 'protocol-error' && this.localNext === 'data') this.fail('protocol-error', reason.error!);
      else this.localEnded();
    });
    if (listenerEnd) {
      local.send(ackFrame());
      this.localNext = 'switch';
      this.switchSending();
    }
    this.syncPause();
  }

  private onLocalBatch(batch: FrameBatch): void {
    // The listener's local links are accepted before we know whose they are: their maxFrame is
    // not this link's, so the size is checked here (the client dialled with this link's).
    if (this.checkLocalSize) {
      const maxFrame = this.capabilities.maxFrame;
      for (let i = 0; i < batch.count; i++) {
        if (batch.lengths[i]! > maxFrame) {
          this.fail('protocol-error', new FrameTooLargeError(batch.lengths[i]!, maxFrame, 'receive'));
          return;
        }
      }
    }
    if (this.localNext === 'data' && this.stage === 'local' && this.batchHandler && this.canDeliver()) {
      // the fast path: the local link's own batch
      this.localReceived += batch.count;
      this.received += batch.count;
      try {
        this.batchHandler(batch);
      } catch (err) {
        this.handlerThrew(err);
      }
      return;
    }
    const { bytes, starts, lengths } = batch;
    for (let i = 0; i < batch.count; i++) this.onLocalFrame(new Uint8Array(bytes.buffer, bytes.byteOffset + starts[i]!, lengths[i]!));
  }

  private onLocalFrame(f: Uint8Array): void {
    if (!this.localAlive) return;
    switch (this.localNext) {
      case 'ack':
        if (!isAck(f)) {
          void this.local!.close(); // not our peer's rendezvous: stay on NATS
          return;
        }
        this.localNext = 'switch';
        this.switchSending();
        return;
      case 'switch': {
        const n = f.length > SWITCH.length && SWITCH.equals(f.subarray(0, SWITCH.length)) ? readCount(f, SWITCH.length) : -1;
        if (n < 0) {
          void this.local!.close();
          return;
        }
        this.localNext = 'data';
        this.sawSwitch = true;
        this.switchAt = n;
        this.stage = 'switching';
        this.startCatchUp();
        this.syncPause();
        return;
      }
      case 'data':
        this.localReceived++;
        if (this.stage === 'switching') {
          this.heldLocal.push(Uint8Array.from(f));
          this.syncPause();
        } else this.emit(f);
    }
  }

  /** The local link ended (failed, or the peer closed it): both directions go back to NATS. */
  private localEnded(): void {
    if (this.localEndSeen) return;
    this.localEndSeen = true;
    this.localAlive = false;
    this.settled = true;
    clearTimeout(this.fallbackWait);
    if (this.ended || this.closing) return;
    if (this.sendOn === 'local') {
      this.sendOn = 'after';
      try {
        this.nats.send(counted(Buffer.of(P_FALLBACK), this.localSent));
      } catch {
        // The NatsLink is ending too: the link ends with it.
      }
    }
    this.countLocalLoss();
    if (this.stage === 'nats' || this.stage === 'local') this.enterFallback();
    this.syncPause();
  }

  private countLocalLoss(): void {
    if (this.peerLocalSent < 0 || this.localAlive) return;
    this.lostExtra += Math.max(0, this.peerLocalSent - this.localReceived);
    this.peerLocalSent = -1;
  }

  // ---- receiving

  private onNatsBatch(batch: FrameBatch): void {
    const { bytes, starts, lengths } = batch;
    for (let i = 0; i < batch.count; i++) {
      // the prefix byte is read where it is; the frame after it is the one view made
      const at = starts[i]!;
      this.onNatsFrame(bytes[at], new Uint8Array(bytes.buffer, bytes.byteOffset + at + 1, lengths[i]! - 1));
    }
  }

  private onNatsFrame(prefix: number | undefined, body: Uint8Array): void {
    switch (prefix) {
      case P_DATA:
        // After a SWITCH, a DATA frame whose place has passed was counted lost when it passed.
        if (this.stage === 'local' || (this.stage === 'fallback' && this.sawSwitch)) return;
        this.natsSeen++;
        this.emit(body);
        if (this.stage === 'switching') this.checkCaughtUp(false);
        return;
      case P_AFTER_LOCAL:
        if (this.localAlive || this.stage === 'switching') {
          this.heldAfter.push(Uint8Array.from(body));
          this.syncPause();
        } else this.emit(body);
        return;
      case P_FALLBACK:
        this.peerLocalSent = readCount(body, 0);
        if (this.localAlive) {
          // The peer's end of our local link is gone: ours will hear it; if not, end it.
          this.fallbackWait = setTimeout(() => void this.local?.close(), FALLBACK_WAIT_MS);
        } else this.countLocalLoss();
        return;
      default:
        this.fail('protocol-error', new ProtocolError(`nats link ${this.remote}: unknown frame prefix ${prefix}`));
    }
  }

  private startCatchUp(): void {
    const deadline = Date.now() + CATCH_UP_MS;
    this.checkCaughtUp(false);
    if (this.stage !== 'switching') return;
    this.catchUp = setInterval(() => this.checkCaughtUp(Date.now() >= deadline), CATCH_UP_POLL_MS);
  }

  /** Ends the switch once every DATA frame sent before it is delivered or lost (or `force`). */
  private checkCaughtUp(force: boolean): void {
    if (this.stage !== 'switching') return;
    const accounted = this.natsSeen + this.nats.stats!.lost;
    if (accounted < this.switchAt && !force) return;
    if (accounted < this.switchAt) this.lostExtra += this.switchAt - accounted;
    clearInterval(this.catchUp);
    this.stage = 'local';
    for (const f of this.heldLocal.splice(0)) this.emit(f);
    if (!this.localAlive) this.enterFallback();
    this.syncPause();
  }

  private enterFallback(): void {
    this.stage = 'fallback';
    for (const f of this.heldAfter.splice(0)) this.emit(f);
  }

  /** Hands a frame up in order: behind what waits in `out`, or into it while paused. */
  private emit(f: Uint8Array): void {
    if (this.canDeliver()) this.deliver(f);
    else if (!this.stopped()) this.out.push(Uint8Array.from(f));
  }

  /** Nothing waits before the next frame and the application takes it now. */
  private canDeliver(): boolean {
    return this.outHead === this.out.length && !this.userPaused && this.started && !this.stopped();
  }

  /** Closing or ended: what arrives is dropped, as LinkCore drops it while it lingers. */
  private stopped(): boolean {
    return this.ended || this.closing !== undefined;
  }

  private deliver(f: Uint8Array): void {
    this.received++;
    try {
      if (this.frameHandler) this.frameHandler(f);
      else this.batchHandler!(this.one.set(f));
    } catch (err) {
      this.handlerThrew(err);
    }
  }

  /** As on every link (transport.ts): a handler that throws ends the link with kind `error`. */
  private handlerThrew(err: unknown): void {
    this.fail('error', err instanceof Error ? err : new Error(String(err)));
  }

  private fail(kind: 'protocol-error' | 'error', error: Error): void {
    this.failure ??= { kind, error };
    void this.close();
  }

  /** Pauses each link exactly while what it would deliver has to wait. */
  private syncPause(): void {
    const hold = this.userPaused || this.outHead < this.out.length || !this.started;
    const natsWants = hold || this.heldAfter.length > 0;
    // The local link's own "SYOK" and SWITCH are read whatever the application does.
    const localWants = (hold && this.localNext === 'data') || this.stage === 'switching';
    if (natsWants !== this.natsPaused) {
      this.natsPaused = natsWants;
      if (natsWants) this.nats.pause();
      else this.nats.resume();
    }
    if (this.local && localWants !== this.localPaused) {
      this.localPaused = localWants;
      if (localWants) this.local.pause();
      else this.local.resume();
    }
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.frameHandler = handler;
    this.batchHandler = undefined;
    this.start();
  }

  onFrames(handler: (batch: FrameBatch) => void): void {
    this.batchHandler = handler;
    this.frameHandler = undefined;
    this.start();
  }

  private start(): void {
    if (!this.started) {
      this.started = true;
      this.nats.onFrames!((batch) => this.onNatsBatch(batch));
    }
    this.resume();
  }

  pause(): void {
    this.userPaused = true;
    this.syncPause();
  }

  resume(): void {
    this.userPaused = false;
    const out = this.out;
    while (this.outHead < out.length && !this.userPaused && this.started && !this.stopped()) {
      const f = out[this.outHead]!;
      out[this.outHead++] = EMPTY;
      this.deliver(f);
    }
    if (this.outHead === out.length) {
      this.out = [];
      this.outHead = 0;
    }
    this.syncPause();
  }

  private stopTimers(): void {
    clearInterval(this.catchUp);
    clearTimeout(this.fallbackWait);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopTimers();
      await this.releaseOffer?.();
      await this.local?.close();
      await this.nats.close();
      await this.closed;
    })();
    return this.closing;
  }
}
