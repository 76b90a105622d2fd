/**
 * raw-bus-peer.ts: a bus peer that writes whatever envelopes (or bytes) a test gives it,
 * over a real unix socket, in this process, and reads what comes back, for tests that check
 * what a system does with messages no honest node sends. It speaks §1 framing itself and
 * keeps every frame it receives; it never answers anything on its own.
 */
import { createConnection, type Socket } from 'node:net';
import { decodeEnvelope, encodeEnvelope, MsgType, type Envelope } from '../../src/bus/envelope.js';
import { encodeFrame, FrameDecoder } from '../../src/transports/stream/framing.js';

/** What a read found: an envelope, the socket's end, or nothing within the wait. */
export type Heard = Envelope | 'eof' | 'timeout';

const refs = { decodeRef: (node: string, actor: string) => ({ node, actor }) };

export class RawBusPeer {
  private readonly inbox: Envelope[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly node: string,
  ) {
    const decoder = new FrameDecoder(
      64 * 1024 * 1024,
      (f) => {
        this.inbox.push(decodeEnvelope(Buffer.from(f), refs));
        this.wake?.();
      },
      () => socket.destroy(),
    );
    socket.on('data', (c: Buffer) => decoder.push(c));
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  /** Connects to a unix socket path; says nothing yet. */
  static connect(path: string, node: string): Promise<RawBusPeer> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path, () => resolve(new RawBusPeer(s, node)));
      s.once('error', reject);
    });
  }

  /** A hello as B.4 has it, with payload fields overridden by `payload`. */
  hello(payload: Record<string, unknown> = {}): void {
    this.send({ type: MsgType.hello, id: 0, to: '', from: this.node, payload: { versions: [1], node: this.node, name: this.node, ...payload }, hops: 0, refused: undefined });
  }

  send(env: Envelope): void {
    this.sendBytes(encodeEnvelope(env));
  }

  sendBytes(frame: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(frame));
  }

  /** The next envelope received, or 'eof', or 'timeout' after `ms`. */
  async next(ms: number): Promise<Heard> {
    const deadline = Date.now() + ms;
    while (this.inbox.length === 0) {
      if (this.ended) return 'eof';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.inbox.shift()!;
  }

  /**
   * Sends a ping and reads until its pong ('open'), a bye (its code), or the end: what the
   * peer made of everything sent before.
   */
  async outcome(ms: number): Promise<string> {
    const nonce = 424242;
    this.send({ type: MsgType.ping, id: nonce, to: '', from: this.node, payload: null, hops: 0, refused: undefined });
    for (;;) {
      const m = await this.next(ms);
      if (m === 'eof' || m === 'timeout') return m;
      if (m.type === MsgType.pong && m.id === nonce) return 'open';
      if (m.type === MsgType.bye) {
        const code = (m.payload as { code?: unknown } | null)?.code;
        return `bye ${typeof code === 'string' ? code : '(none)'}`;
      }
    }
  }

  /** Whether the socket has ended (the peer closed it). */
  async closedWithin(ms: number): Promise<boolean> {
    for (const deadline = Date.now() + ms; !this.ended && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    return this.ended;
  }

  close(): void {
    this.socket.destroy();
  }
}
