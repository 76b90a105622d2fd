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
 *   through `finish()`, which destroys both sockets, waits until their fds are closed, runs
 *   the transport's `release` hook (unlink names), and only then resolves `closed`.
 */
import type { Socket } from 'node:net';
import { FrameTooLargeError, PeerGoneError, TransportError } from '../errors.js';
import { FrameDecoder, FrameEncoder } from './framing.js';
import type { CloseKind, CloseReason, Link, LinkCapabilities, LinkOptions } from './transport.js';
import { DEFAULT_HIGH_WATER_MARK, DEFAULT_LINGER_MS, DEFAULT_MAX_FRAME, MAX_FRAME_LIMIT } from './transport.js';

/** LinkOptions with every default filled in and checked. */
export interface ResolvedLinkOptions {
  maxFrame: number;
  highWaterMark: number;
  lingerMs: number;
}

/** Validates options once, at the public boundary, with messages that name the option. */
export function resolveLinkOptions(options: LinkOptions = {}): ResolvedLinkOptions {
  const check = (name: string, value: number | undefined, fallback: number, max: number): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new TransportError('ERR_INVALID_OPTION', `option ${name} must be an integer from 0 to ${max}, got ${String(value)}`);
    }
    return value;
  };
  return {
    maxFrame: check('maxFrame', options.maxFrame, DEFAULT_MAX_FRAME, MAX_FRAME_LIMIT),
    highWaterMark: check('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 2 ** 31),
    lingerMs: check('lingerMs', options.lingerMs, DEFAULT_LINGER_MS, 2 ** 31),
  };
}

export interface StreamLinkInit {
  scheme: string;
  remote: string;
  capabilities: Omit<LinkCapabilities, 'maxFrame'>;
  options: ResolvedLinkOptions;
  /** Where frames are read from. */
  readable: Socket;
  /** Where frames are written to (may be `readable`). */
  writable: Socket;
  /** Runs once after both sockets are closed: remove names, release anything else. */
  release?: () => void;
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
  private readonly releaseHook: (() => void) | undefined;
  private readonly encoder = new FrameEncoder();
  private readonly decoder: FrameDecoder;
  private handler: ((frame: Uint8Array) => void) | null = null;
  private reading = false;
  private paused = false;
  private flushScheduled = false;
  private state: 'open' | 'closing' | 'done' = 'open';
  private reason: CloseReason | null = null;
  private resolveClosed!: (reason: CloseReason) => void;
  private drainWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(init: StreamLinkInit) {
    this.scheme = init.scheme;
    this.remote = init.remote;
    this.options = init.options;
    this.capabilities = Object.freeze({ ...init.capabilities, maxFrame: init.options.maxFrame });
    this.readable = init.readable;
    this.writable = init.writable;
    this.releaseHook = init.release;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.decoder = new FrameDecoder(
      this.options.maxFrame,
      (frame) => this.handler!(frame),
      (error) => this.finish('protocol-error', error),
    );

    for (const s of new Set([this.readable, this.writable])) {
      s.on('error', (err: NodeJS.ErrnoException) => this.onSocketError(err));
      s.on('close', () => this.finish('peer-gone'));
    }
    this.readable.on('end', () => this.finish('peer-gone'));
  }

  get bufferedAmount(): number {
    return this.encoder.pendingBytes + this.writable.writableLength;
  }

  send(frame: Uint8Array): boolean {
    if (this.state !== 'open') {
      throw new TransportError('ERR_LINK_CLOSED', `send on a closed ${this.scheme} link (${this.remote})`, {
        address: this.remote,
      });
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
    if (this.paused) this.readable.pause();
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
    }
  }

  drain(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.bufferedAmount < this.options.highWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  async close(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'closing';
      this.decoder.stop();
      this.readable.pause();
      this.flush();
      await this.linger();
      this.finish('closed');
    }
    await this.closed;
  }

  /** Waits until queued bytes reach the OS or lingerMs passes, whichever is first. */
  private linger(): Promise<void> {
    const w = this.writable;
    if (w.destroyed || w.writableLength === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        w.off('close', done);
        resolve();
      };
      const timer = setTimeout(done, this.options.lingerMs);
      // An empty write's callback runs once everything queued before it is written.
      w.write(EMPTY, done);
      w.on('close', done);
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
    if (this.drainWaiters.length > 0) this.wakeDrainers();
  };

  private wakeDrainers(): void {
    if (this.bufferedAmount >= this.options.highWaterMark) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w.resolve();
  }

  private onSocketError(err: NodeJS.ErrnoException): void {
    if (err.code && PEER_GONE_CODES.has(err.code)) this.finish('peer-gone', new PeerGoneError(`${this.scheme} peer is gone: ${err.code}`, { cause: err }));
    else this.finish('error', TransportError.fromNode(err, this.remote));
  }

  private closedError(): Error {
    const r = this.reason;
    if (r?.kind === 'peer-gone') return r.error ?? new PeerGoneError(`${this.scheme} peer is gone (${this.remote})`);
    return new TransportError('ERR_LINK_CLOSED', `${this.scheme} link is closed (${this.remote})`, {
      address: this.remote,
      ...(r?.error ? { cause: r.error } : {}),
    });
  }

  /** The single ending path. The first reason wins. */
  private finish(kind: CloseKind, error?: Error): void {
    if (this.reason !== null) return;
    this.reason = error ? { kind, error } : { kind };
    this.state = 'done';
    this.decoder.stop();
    for (const w of this.drainWaiters.splice(0)) w.reject(this.closedError());
    const sockets = [...new Set([this.readable, this.writable])];
    let open = sockets.length;
    const onClosed = (): void => {
      if (--open > 0) return;
      try {
        this.releaseHook?.();
      } finally {
        this.resolveClosed(this.reason!);
      }
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
