/**
 * worker.ts: baseline: a worker_threads Worker answering over its MessagePort
 * (peers/worker-peer.ts). Threads of one process, not two processes: marked `threads` in every
 * report, since it skips the kernel entirely. postMessage() has no backpressure, so sinks are
 * paced by credit.ts (acks at a quarter of a 1 MiB window, whatever the size).
 *
 * postMessage(Buffer) clones the bytes. A transfer list would hand over the ArrayBuffer
 * instead, but only a buffer the sender gives up: every message would need a fresh one,
 * filled, and that allocation cost as much as the clone it saves (measured at 64 B, 64 KiB
 * and 1 MiB; slower at 64 B). Every subject sends from the same reused templates, so the
 * worker does too.
 */
import { Worker } from 'node:worker_threads';
import { ByteChannel, type Channel } from '../channel.js';
import { peerScript } from '../peer-script.js';
import type { Subject } from '../subject.js';
import { decodeReply, type Probe, type Reply } from '../wire.js';
import { Credit } from './credit.js';

/** Bytes of sinks in flight at most (the peer's acks pace the rest; credit.ts). */
export const WORKER_HIGH_WATER = 1024 * 1024;

class WorkerChannel extends ByteChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private readonly credit = new Credit(WORKER_HIGH_WATER);
  private outer: (reply: Reply) => void = () => {};

  constructor(private readonly worker: Worker) {
    super();
    super.onReply((reply) => (reply.tag === 'ack' ? this.credit.ack(reply.phase, reply.frames) : this.outer(reply)));
    worker.on('message', (m: Uint8Array) => this.deliver(m));
  }

  override onReply(handler: (reply: Reply) => void): void {
    this.outer = handler;
  }

  override send(probe: Probe, size: number): boolean {
    const open = probe.tag === 'sink' ? this.credit.sent(probe.phase, size) : this.credit.open;
    super.send(probe, size);
    return open;
  }

  protected sendBytes(bytes: Buffer): boolean {
    this.worker.postMessage(bytes);
    return true;
  }

  drain(): Promise<void> {
    return this.credit.drain();
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
    const worker = new Worker(peerScript('worker-peer'), { workerData: { highWater: WORKER_HIGH_WATER } });
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
