/**
 * zmq-api.ts: the slice of the optional `zeromq` (v6) package the zeromq baseline uses,
 * typed here because the package is not a dependency (so its own types are not installed),
 * and a loader that imports it by a name TypeScript does not resolve at build time.
 *
 * A v6 socket allows one send() in flight at a time, so SendQueue serialises sends and keeps
 * the bytes waiting, for backpressure like every other channel. Its pump is zeromq.js's own
 * idiom, `await socket.send(m)` in a loop; the queue around it must cost next to nothing, or
 * the baseline measures the queue: an Array.shift() per message on a queue thousands long
 * (1 MiB of 64 B messages) took 40% of the sender's time and held the baseline to a fifth of
 * what a plain send loop over the same package reaches.
 */
export interface ZmqPair {
  bind(address: string): Promise<void>;
  connect(address: string): void;
  send(message: Uint8Array): Promise<void>;
  receive(): Promise<Buffer[]>;
  close(): void;
  readonly closed: boolean;
}

export interface ZmqModule {
  Pair: new () => ZmqPair;
}

const NAME = 'zeromq';

/** The zeromq module, or an Error saying why it cannot be used (absent, or not the v6 API). */
export async function loadZmq(): Promise<ZmqModule> {
  const mod = (await import(NAME)) as Partial<ZmqModule> & { default?: Partial<ZmqModule> };
  const api = typeof mod.Pair === 'function' ? mod : mod.default;
  if (typeof api?.Pair !== 'function') throw new Error('zeromq is installed but has no Pair socket class (switchyard needs zeromq 6)');
  return api as ZmqModule;
}

const HIGH_WATER = 1024 * 1024;

/** Sends one message at a time on `socket`; `open` is false above HIGH_WATER queued bytes. */
export class SendQueue {
  // Messages from `head` on wait to be sent; the array is emptied whenever the pump catches
  // up, so taking a message is an index step, never a shift of everything behind it.
  private queue: Array<Uint8Array | undefined> = [];
  private head = 0;
  private queued = 0;
  private pumping = false;
  private waiters: Array<() => void> = [];
  /** The first send error; later sends are dropped (the channel is broken). */
  error: Error | undefined;

  constructor(private readonly socket: ZmqPair) {}

  get open(): boolean {
    return this.queued < HIGH_WATER;
  }

  push(message: Uint8Array): boolean {
    this.queue.push(message);
    this.queued += message.byteLength;
    if (!this.pumping) void this.pump();
    return this.open;
  }

  drain(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    while (this.head < this.queue.length && !this.error) {
      const m = this.queue[this.head]!;
      this.queue[this.head++] = undefined; // let a sent message go
      try {
        await this.socket.send(m);
      } catch (err) {
        this.error = err as Error;
      }
      this.queued -= m.byteLength;
      if (this.waiters.length && this.open) for (const w of this.waiters.splice(0)) w();
    }
    this.queue = [];
    this.head = 0;
    this.pumping = false;
  }
}
