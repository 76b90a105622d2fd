/**
 * zmq-api.ts: the slice of the optional `zeromq` (v6) package the zeromq baseline uses,
 * typed here because the package is not a dependency (so its own types are not installed),
 * and a loader that imports it by a name TypeScript does not resolve at build time.
 *
 * A v6 socket allows one send() in flight at a time, so SendQueue serialises sends and keeps
 * the bytes waiting, for backpressure like every other channel.
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
  private queue: Uint8Array[] = [];
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
    while (this.queue.length && !this.error) {
      const m = this.queue.shift()!;
      try {
        await this.socket.send(m);
      } catch (err) {
        this.error = err as Error;
      }
      this.queued -= m.byteLength;
      if (this.open) for (const w of this.waiters.splice(0)) w();
    }
    this.pumping = false;
  }
}
