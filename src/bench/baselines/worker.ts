/**
 * worker.ts: baseline: a worker_threads Worker answering over its MessagePort
 * (peers/worker-peer.ts). Threads of one process, not two processes: marked `threads` in every
 * report, since it skips the kernel entirely.
 *
 * postMessage() has no backpressure, so the worker ACKs every ACK_EVERY sinks and we keep at
 * most max(HIGH_WATER bytes, 2 x ACK_EVERY messages) unacknowledged, as a careful user would.
 */
import { Worker } from 'node:worker_threads';
import { ByteChannel, type Channel } from '../channel.js';
import { peerScript } from '../peer-process.js';
import type { Subject } from '../subject.js';
import type { Reply } from '../wire.js';
import { decodeReply } from '../wire.js';

export const ACK_EVERY = 8;
const HIGH_WATER = 1024 * 1024;

class WorkerChannel extends ByteChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private acked = new Map<number, number>();
  private window = Infinity;
  private inFlight = 0;
  private waiters: Array<() => void> = [];
  private outer: (reply: Reply) => void = () => {};

  constructor(private readonly worker: Worker) {
    super();
    super.onReply((reply) => {
      if (reply.tag === 'ack') {
        this.inFlight -= reply.frames - (this.acked.get(reply.phase) ?? 0);
        this.acked.set(reply.phase, reply.frames);
        if (this.inFlight < this.window) for (const w of this.waiters.splice(0)) w();
      } else this.outer(reply);
    });
    worker.on('message', (m: Uint8Array) => this.deliver(m));
  }

  override onReply(handler: (reply: Reply) => void): void {
    this.outer = handler;
  }

  override send(probe: Parameters<ByteChannel['send']>[0], size: number): boolean {
    if (probe.tag === 'sink') {
      this.window = Math.max(2 * ACK_EVERY, Math.ceil(HIGH_WATER / size));
      this.inFlight++;
    }
    return super.send(probe, size);
  }

  protected sendBytes(bytes: Buffer): boolean {
    this.worker.postMessage(bytes);
    return this.inFlight < this.window;
  }

  drain(): Promise<void> {
    return this.inFlight < this.window ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

export const workerSubject: Subject = {
  name: 'worker_threads',
  kind: 'baseline',
  threads: true,
  note: 'threads, not processes',
  async open(): Promise<Channel> {
    const worker = new Worker(peerScript('worker-peer'), { workerData: { ackEvery: ACK_EVERY } });
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', (m: Uint8Array) => {
        worker.off('error', reject);
        if (Buffer.from(m).toString() === 'ready') resolve();
        else reject(new Error(`worker peer said ${decodeReply(m).tag}`));
      });
    });
    return new WorkerChannel(worker);
  },
};
