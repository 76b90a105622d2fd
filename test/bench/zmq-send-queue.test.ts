/**
 * zmq-send-queue.test.ts: the zeromq baseline's send queue against a fake socket that, like a
 * zeromq 6 socket, refuses a second send() while one is in flight: every message goes out once,
 * in order, one at a time; backpressure closes above the high-water mark and drain() resolves
 * once the queue is below it; the first send error is kept, not thrown into the pump. No
 * zeromq needed: the queue is ours, the socket's contract is the one zmq-api.ts types.
 */
import { expect } from 'chai';
import { SendQueue, type ZmqPair } from '../../benchmarks/baselines/zmq-api.js';

class FakePair implements ZmqPair {
  readonly sent: number[] = [];
  closed = false;
  inFlight = false;
  failAt = -1;
  /** Resolvers of sends that wait (the socket is "full"); null = sends complete at once. */
  held: Array<() => void> | null = null;

  async bind(): Promise<void> {}
  connect(): void {}
  async receive(): Promise<Buffer[]> {
    return [];
  }
  close(): void {
    this.closed = true;
  }
  async send(message: Uint8Array): Promise<void> {
    if (this.inFlight) throw new Error('EBUSY: only one send may be in progress');
    this.inFlight = true;
    try {
      if (this.held) await new Promise<void>((r) => this.held!.push(r));
      const n = Buffer.from(message.buffer, message.byteOffset, message.byteLength).readUInt32BE(0);
      if (n === this.failAt) throw new Error('send failed');
      this.sent.push(n);
    } finally {
      this.inFlight = false;
    }
  }
}

function message(n: number, size = 64): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(n, 0);
  return b;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('bench: the zeromq baseline send queue', function () {
  it('sends every message once, in order, one at a time, across many refills', async function () {
    const socket = new FakePair();
    const q = new SendQueue(socket);
    let n = 0;
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 5000; k++) q.push(message(n++));
      await turn();
    }
    while (socket.sent.length < n) await turn();
    expect(socket.sent).to.deep.equal(Array.from({ length: n }, (_, i) => i));
    expect(q.error).to.equal(undefined);
  });

  it('closes above 1 MiB queued and opens again, resolving drain(), once the socket takes more', async function () {
    const socket = new FakePair();
    socket.held = [];
    const q = new SendQueue(socket);
    const size = 64 * 1024;
    let open = true;
    let n = 0;
    while (open) open = q.push(message(n++, size));
    expect(n).to.equal(16); // 16 x 64 KiB = 1 MiB
    let drained = false;
    const d = q.drain().then(() => (drained = true));
    await turn();
    expect(drained).to.equal(false);
    socket.held.shift()!(); // the socket takes one message
    await d;
    expect(drained).to.equal(true);
    expect(q.open).to.equal(true);
    // The socket stops holding; the send already waiting goes on, the rest complete at once.
    const waiting = socket.held;
    socket.held = null;
    for (const release of waiting.splice(0)) release();
    while (socket.sent.length < n) await turn();
    expect(socket.sent).to.deep.equal(Array.from({ length: n }, (_, i) => i));
  });

  it('keeps the first send error and stops sending', async function () {
    const socket = new FakePair();
    socket.failAt = 3;
    const q = new SendQueue(socket);
    for (let i = 0; i < 10; i++) q.push(message(i));
    await turn();
    expect(q.error?.message).to.equal('send failed');
    expect(socket.sent).to.deep.equal([0, 1, 2]);
  });
});
