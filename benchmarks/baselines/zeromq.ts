/**
 * zeromq.ts: optional baseline: a zeromq 6 PAIR socket over `ipc://` (a Unix socket inside
 * libzmq), to peers/zeromq-peer.ts. Runs only when the user has installed `zeromq`.
 * Driven as zeromq.js documents: `await send()` one message at a time (SendQueue, which must
 * cost nothing beside it) and `receive()` in a loop, with libzmq's default high-water marks.
 * Its round trip stays well above a raw Unix socket's: each message crosses libzmq's I/O
 * thread on both sides, which no option of the package removes for ipc://.
 */
import type { ChildProcess } from 'node:child_process';
import { ByteChannel, type Channel } from '../channel.js';
import { exitOf, spawnPeer, unlessExits } from '../../src/cli/child-process.js';
import { peerScript } from '../peer-script.js';
import type { OpenContext, Subject } from '../subject.js';
import { makeTempDirSync, ownFile, removeOwnedFile, removeTempDir } from '../tmp.js';
import { loadZmq, SendQueue, type ZmqPair } from './zmq-api.js';

class ZmqChannel extends ByteChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private readonly out: SendQueue;

  constructor(
    private readonly socket: ZmqPair,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    super();
    this.out = new SendQueue(socket);
    void this.receive();
  }

  private async receive(): Promise<void> {
    while (!this.socket.closed) {
      let parts: Buffer[];
      try {
        parts = await this.socket.receive();
      } catch {
        return; // closed
      }
      this.deliver(parts[0]!);
    }
  }

  protected sendBytes(bytes: Buffer): boolean {
    if (this.out.error) throw this.out.error;
    return this.out.push(bytes);
  }

  drain(): Promise<void> {
    return this.out.drain();
  }

  async close(): Promise<void> {
    const exited = exitOf(this.child, 2000);
    // The peer exits on an empty message (PAIR has no disconnect event).
    await this.out.drain();
    this.out.push(new Uint8Array(0));
    await exited;
    this.socket.close();
    removeOwnedFile(`${this.dir}/zmq.sock`);
    removeTempDir(this.dir);
  }
}

export const zeromqSubject: Subject = {
  name: 'zeromq',
  kind: 'baseline',
  note: 'optional package: PAIR over ipc://',
  async open(ctx: OpenContext): Promise<Channel> {
    const zmq = await loadZmq();
    const dir = makeTempDirSync();
    const address = `ipc://${ownFile(`${dir}/zmq.sock`)}`;
    const socket = new zmq.Pair();
    await socket.bind(address);
    const child = spawnPeer(peerScript('zeromq-peer'), [address]);
    try {
      await ctx.onPeerProcess(child.pid!);
      const [hello] = await unlessExits(child, socket.receive(), 'zeromq');
      if (hello?.toString() !== 'ready') throw new Error(`zeromq peer said ${hello?.toString()}`);
    } catch (err) {
      child.kill('SIGKILL');
      await exitOf(child);
      socket.close();
      removeOwnedFile(`${dir}/zmq.sock`);
      removeTempDir(dir);
      throw err;
    }
    return new ZmqChannel(socket, child, dir);
  },
};
