/**
 * stream-link.ts: the one Link implementation for byte-stream transports (pipe, socketpair,
 * FIFO, Unix socket, TCP): framing, batching, backpressure, pause, and the one cleanup path.
 *
 * A StreamLink reads from one net.Socket and writes to one net.Socket (the same socket for
 * sockets; two for pipes and FIFOs, which are one-way). Invariants:
 * - Sends made in one tick are flushed together at the end of the tick (one write, or one
 *   writev through cork/uncork), never one syscall per frame.
 * - `bufferedAmount` = encoded-but-unflushed bytes + the writable socket's queue; `send()`
 *   returns false once it reaches the high-water mark. `drain()` is woken by the callback of
 *   each flush's last write (data handed to the OS), so it works whatever the socket's own
 *   high-water mark is.
 * - Every ending (EOF, EPIPE, ECONNRESET, decoder error, handler exception, close()) goes
 *   through `finish()`, which destroys both sockets and resolves `closed` only once their fds
 *   are closed.
 * - EOF behind a pause(): frames already received are still delivered after resume(), then
 *   the link ends as `peer-gone`.
 */
import type { Socket } from 'node:net';
import { FrameTooLargeError, PeerGoneError, TransportError } from '../../errors.js';
import { linkClosedError, sendOnClosedError } from '../core/closed-errors.js';
import { DrainWaiters } from '../core/drain-waiters.js';
import { FrameDecoder, FrameEncoder } from './framing.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { CloseKind, CloseReason, Link, LinkCapabilities } from '../core/transport.js';

export interface StreamLinkInit {
  scheme: string;
  remote: string;
  capabilities: Omit<LinkCapabilities, 'maxFrame'>;
  options: ResolvedLinkOptions;
  /** Where frames are read from. */
  readable: Socket;
  /** Where frames are written to (may be `readable`). */
  writable: Socket;
}

const EMPTY = Buffer.alloc(0);
const PEER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN', 'ECONNABORTED', 'ETIMEDOUT']);

export class StreamLink implements Link {
  readonly scheme: string;
  readonly remote: string;
  readonly capabilities: LinkCapabilities;
  readonly closed: Promise<CloseReason>;

  private readonly readable: Socket;
  private readonly writable: Socket;
  private readonly options: ResolvedLinkOptions;
  private readonly encoder = new FrameEncoder();
  private readonly decoder: FrameDecoder;
  private handler: ((frame: Uint8Array) => void) | null = null;
  private reading = false;
  private paused = false;
  private flushScheduled = false;
  private state: 'open' | 'closing' | 'done' = 'open';
  private reason: CloseReason | null = null;
  private eofPending = false;
  private resolveClosed!: (reason: CloseReason) => void;
  private readonly drainers = new DrainWaiters();

  constructor(init: StreamLinkInit) {
    this.scheme = init.scheme;
    this.remote = init.remote;
    this.options = init.options;
    this.capabilities = Object.freeze({ ...init.capabilities, maxFrame: init.options.maxFrame });
    this.readable = init.readable;
    this.writable = init.writable;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.decoder = new FrameDecoder(
      this.options.maxFrame,
      (frame) => this.handler!(frame),
      (error) => this.finish('protocol-error', error),
    );

    this.readable.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
    this.readable.on('end', () => this.onReadableGone());
    this.readable.on('close', () => this.onReadableGone());
    if (this.writable !== this.readable) {
      this.writable.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
      this.writable.on('close', () => this.finish('peer-gone'));
    }
  }

  /**
   * EOF from the peer. Frames it sent before EOF may still wait in the decoder behind a
   * pause(): they are delivered first, and the link ends once they are (see resume()).
   */
  private onReadableGone(): void {
    if (this.state === 'open' && this.paused && this.decoder.hasQueued) {
      this.eofPending = true;
      return;
    }
    this.finish('peer-gone');
  }

  get bufferedAmount(): number {
    return this.encoder.pendingBytes + this.writable.writableLength;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open') {
      throw sendOnClosedError(this.scheme, this.remote, this.reason);
    }
    if (frame.byteLength > this.options.maxFrame) {
      throw new FrameTooLargeError(frame.byteLength, this.options.maxFrame, 'send');
    }
    this.encoder.encode(frame);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
    return this.bufferedAmount < this.options.highWaterMark;
  }

  onFrame(handler: (frame: Uint8Array) => void): void {
    this.handler = handler;
    if (this.reading || this.state !== 'open') return;
    this.reading = true;
    this.readable.on('data', (chunk: Buffer) => {
      if (this.state !== 'open') return;
      try {
        this.decoder.push(chunk);
      } catch (err) {
        this.finish('error', err instanceof Error ? err : new Error(String(err)));
      }
    });
    // An explicit pause() before onFrame() left the stream paused; 'data' does not restart it.
    if (this.paused) this.readable.pause();
    else this.readable.resume();
  }

  pause(): void {
    this.paused = true;
    this.decoder.pause();
    this.readable.pause();
  }

  resume(): void {
    this.paused = false;
    if (this.reading) this.readable.resume();
    try {
      this.decoder.resume();
    } catch (err) {
      this.finish('error', err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.eofPending && !this.paused) this.finish('peer-gone');
  }

  drain(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.bufferedAmount < this.options.highWaterMark) return Promise.resolve();
    return this.drainers.wait();
  }

  async close(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      this.decoder.stop();
      // Keep reading (and discarding) until the end: closing a socket with unread bytes in
      // the kernel sends RST, and the kernel then drops what we had not sent yet.
      this.readable.resume();
      this.flush();
      await this.linger();
      this.finish('closed');
    }
    await this.closed;
  }

  /**
   * Flushes, bounded by lingerMs. On a socket: send FIN once the queue is written and wait
   * for the peer's EOF, so nothing we sent is lost to an RST. On a pipe or FIFO: wait until
   * the queue is written; closing the fd is the peer's EOF.
   */
  private linger(): Promise<void> {
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
      const timer = setTimeout(done, this.options.lingerMs);
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

  private flush(): void {
    this.flushScheduled = false;
    if (this.encoder.pendingBytes === 0 || this.writable.destroyed) return;
    const bufs = this.encoder.take();
    const last = bufs.length - 1;
    if (last > 0) this.writable.cork();
    for (let i = 0; i < last; i++) this.writable.write(bufs[i]!);
    this.writable.write(bufs[last]!, this.afterWrite);
    if (last > 0) this.writable.uncork();
    if (this.bufferedAmount < this.options.highWaterMark) this.wakeDrainers();
  }

  private readonly afterWrite = (): void => {
    if (this.drainers.waiting) this.wakeDrainers();
  };

  private wakeDrainers(): void {
    if (this.bufferedAmount < this.options.highWaterMark) this.drainers.wake();
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (err.code && PEER_GONE_CODES.has(err.code)) this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer is gone: ${err.code}`, { cause: err }));
    else this.finish('error', TransportError.fromNode(err, this.remote));
  }

  private closedError(): Error {
    return linkClosedError(this.scheme, this.remote, this.reason);
  }

  /** The single ending path. The first reason wins. */
  private finish(kind: CloseKind, error?: Error): void {
    if (this.reason !== null) return;
    // During close() the peer's EOF (or an EPIPE) is the expected end of lingering, not news:
    // close() finishes as 'closed' once linger() returns.
    if (this.state === 'closing' && kind !== 'closed') return;
    this.reason = error ? { kind, error } : { kind };
    this.state = 'done';
    this.decoder.stop();
    this.drainers.fail(this.closedError());
    const sockets = [...new Set([this.readable, this.writable])];
    let open = sockets.length;
    const onClosed = (): void => {
      if (--open === 0) this.resolveClosed(this.reason!);
    };
    for (const s of sockets) {
      if (s.closed) onClosed();
      else {
        s.once('close', onClosed);
        s.destroy();
      }
    }
  }
}
