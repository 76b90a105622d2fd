/**
 * stream-carrier.ts: the carrier for byte-stream transports (pipe, socketpair, FIFO, Unix
 * socket, TCP) under LinkCore: u32 framing, one write per tick, the sockets' events, linger.
 *
 * It reads from one net.Socket and writes to one net.Socket (the same socket for sockets; two
 * for pipes and FIFOs, which are one-way). Invariants:
 * - Frames of one tick leave together at flush(): one write, or one writev through
 *   cork/uncork, never one syscall per frame. Claimed frames are written in the batch slab.
 * - `bufferedAmount` = encoded-but-unflushed bytes + the writable socket's queue; drained()
 *   is reported from the callback of each flush's last write (data handed to the OS), so it
 *   works whatever the socket's own high-water mark is.
 * - Frames that arrived before EOF are held behind a pause (in the decoder) and reported
 *   before the peer's end (LinkCore orders the two).
 * - On a one-way pair (pipe, FIFO) the peer's end is the read side's EOF: a failed write side
 *   only means the peer is going, and what it wrote before is still read and delivered.
 * - Once the link is closing, socket events are the end of lingering, not news: they are
 *   not reported, and linger() waits for its own events.
 * - release() destroys both sockets and resolves only once their fds are closed.
 */
import type { Socket } from 'node:net';
import { PeerGoneError, TransportError } from '../../errors.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { Carrier, CarrierSink } from '../core/transport.js';
import { FrameDecoder, FrameEncoder } from './framing.js';

export interface StreamCarrierInit {
  scheme: string;
  remote: string;
  options: ResolvedLinkOptions;
  /** Where frames are read from. */
  readable: Socket;
  /** Where frames are written to (may be `readable`). */
  writable: Socket;
}

const EMPTY = Buffer.alloc(0);
const PEER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN', 'ECONNABORTED', 'ETIMEDOUT']);

export class StreamCarrier implements Carrier {
  private readonly sink: CarrierSink;
  private readonly scheme: string;
  private readonly remote: string;
  private readonly readable: Socket;
  private readonly writable: Socket;
  private readonly encoder = new FrameEncoder();
  private readonly decoder: FrameDecoder;
  private reading = false;
  private readonly lingerMs: number;
  private writeGoneTimer: NodeJS.Timeout | undefined;

  constructor(sink: CarrierSink, init: StreamCarrierInit) {
    this.sink = sink;
    this.scheme = init.scheme;
    this.remote = init.remote;
    this.readable = init.readable;
    this.writable = init.writable;
    this.lingerMs = init.options.lingerMs;
    this.decoder = new FrameDecoder(
      init.options.maxFrame,
      (frame) => {
        sink.deliver(frame); // a pause() inside the handler pauses the decoder itself
      },
      (error) => sink.fail('protocol-error', error),
      // the frames of a chunk in one batch when the application takes batches
      { wanted: () => sink.batching, deliver: (batch) => sink.deliverBatch(batch) },
    );

    this.readable.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
    this.readable.on('end', () => this.onReadableGone());
    this.readable.on('close', () => this.onReadableGone());
    if (this.writable !== this.readable) {
      this.writable.on('error', (err: NodeJS.ErrnoException) => this.onWritableGone(err));
      this.writable.on('close', () => this.onWritableGone());
    }
  }

  get bufferedAmount(): number {
    return this.encoder.pendingBytes + this.writable.writableLength;
  }

  get memory(): Uint8Array {
    return this.encoder.memory;
  }

  get holding(): boolean {
    return this.decoder.hasQueued;
  }

  write(frame: Uint8Array): void {
    this.encoder.encode(frame);
  }

  claim(maxBytes: number): number {
    return this.encoder.claim(maxBytes);
  }

  commit(length: number): void {
    this.encoder.commit(length);
  }

  flush(): void {
    if (this.encoder.pendingBytes === 0 || this.writable.destroyed) return;
    const bufs = this.encoder.take();
    const last = bufs.length - 1;
    if (last > 0) this.writable.cork();
    for (let i = 0; i < last; i++) this.writable.write(bufs[i]!);
    this.writable.write(bufs[last]!, this.afterWrite);
    if (last > 0) this.writable.uncork();
    this.sink.drained();
  }

  private readonly afterWrite = (): void => this.sink.drained();

  start(): void {
    if (this.reading) return;
    this.reading = true;
    this.readable.on('data', (chunk: Buffer) => {
      if (!this.sink.ending) this.decoder.push(chunk);
    });
    // An explicit pause() before the handler was set left the stream paused; 'data' does not
    // restart it.
    if (this.sink.paused) this.readable.pause();
    else this.readable.resume();
  }

  pause(): void {
    this.decoder.pause();
    this.readable.pause();
  }

  resume(): void {
    if (this.reading) this.readable.resume();
    this.decoder.resume();
  }

  /**
   * Flushes, bounded by the deadline. On a socket: send FIN once the queue is written and
   * wait for the peer's EOF, so nothing we sent is lost to an RST. On a pipe or FIFO: wait
   * until the queue is written; closing the fd is the peer's EOF.
   */
  linger(deadline: number): Promise<void> {
    this.decoder.stop();
    // Keep reading (and discarding) until the end: closing a socket with unread bytes in the
    // kernel sends RST, and the kernel then drops what we had not sent yet.
    this.readable.resume();
    this.flush();
    const w = this.writable;
    const r = this.readable;
    if (w.destroyed) return Promise.resolve();
    const duplex = w === r;
    if (!duplex && w.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        w.off('close', done);
        r.off('end', done);
        r.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      w.on('close', done);
      if (duplex) {
        if (r.readableEnded) return done();
        r.on('end', done);
        r.on('close', done);
        w.end();
      } else {
        w.write(EMPTY, done); // its callback runs once everything queued before it is written
      }
    });
  }

  release(): Promise<void> {
    if (this.writeGoneTimer) clearTimeout(this.writeGoneTimer);
    this.decoder.stop();
    const sockets = [...new Set([this.readable, this.writable])];
    return new Promise((resolve) => {
      let open = sockets.length;
      const onClosed = (): void => {
        if (--open === 0) resolve();
      };
      for (const s of sockets) {
        if (s.closed) onClosed();
        else {
          s.once('close', onClosed);
          s.destroy();
        }
      }
    });
  }

  private onReadableGone(): void {
    if (this.writeGoneTimer) clearTimeout(this.writeGoneTimer);
    if (!this.sink.ending) this.sink.peerGone();
  }

  /**
   * The write side of a one-way pair (pipe, FIFO) failed or closed: the peer is going, but
   * what it wrote before may still wait in our read pipe, and the read side's EOF is what
   * says it has all arrived. So the ending is reported at that EOF, or after `lingerMs` if a
   * peer keeps its write end open after closing its read end.
   */
  private onWritableGone(err?: NodeJS.ErrnoException): void {
    if (this.sink.ending || this.writeGoneTimer) return;
    if (err && !(err.code && PEER_GONE_CODES.has(err.code))) return this.onSocketError(err);
    if (this.readable.readableEnded || this.readable.destroyed) return this.onReadableGone();
    this.writeGoneTimer = setTimeout(() => this.onReadableGone(), this.lingerMs);
    this.writeGoneTimer.unref();
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (this.sink.ending) return;
    if (err.code && PEER_GONE_CODES.has(err.code)) this.sink.peerGone(new PeerGoneError(`${this.scheme} peer is gone: ${err.code}`, { cause: err }));
    else this.sink.fail('error', TransportError.fromNode(err, this.remote));
  }
}
