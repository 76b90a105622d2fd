/**
 * raw-unix.ts: baseline: a plain `net` Unix-domain socket with the hand-written length prefix
 * of length-prefix.ts, to a child process (peers/raw-unix-peer.ts). What switchyard's `unix:`
 * should be compared with: the same kernel path without the library.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ByteChannel, type Channel } from '../channel.js';
import { exitOf, spawnPeer, unlessExits } from '../../src/cli/child-process.js';
import { peerScript } from '../peer-script.js';
import type { OpenContext, Subject } from '../subject.js';
import { makeTempDirSync, ownFile, removeOwnedFile, removeTempDir } from '../tmp.js';
import { LengthPrefixReader, writeFrame } from './length-prefix.js';
import type { ChildProcess } from 'node:child_process';

class RawUnixChannel extends ByteChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;

  constructor(
    private readonly socket: Socket,
    private readonly server: Server,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly path: string,
  ) {
    super();
    const reader = new LengthPrefixReader();
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => this.deliver(f)));
  }

  protected sendBytes(bytes: Buffer): boolean {
    return writeFrame(this.socket, bytes);
  }

  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('drain', resolve));
  }

  async close(): Promise<void> {
    const exited = exitOf(this.child);
    this.socket.end();
    await new Promise<void>((r) => this.server.close(() => r()));
    await exited;
    removeOwnedFile(this.path);
    removeTempDir(this.dir);
  }
}

export const rawUnixSubject: Subject = {
  name: 'raw unix socket',
  kind: 'baseline',
  note: 'net + hand-written u32 prefix',
  async open(ctx: OpenContext): Promise<Channel> {
    const dir = makeTempDirSync();
    const path = ownFile(`${dir}/raw.sock`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const child = spawnPeer(peerScript('raw-unix-peer'), [path]);
    let socket: Socket;
    try {
      await ctx.onPeerProcess(child.pid!);
      socket = await unlessExits(child, accepted, 'raw unix');
    } catch (err) {
      // a peer that dies before it connects must not leave the server, its file or the dir
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
      await new Promise<void>((r) => server.close(() => r()));
      removeOwnedFile(path);
      removeTempDir(dir);
      throw err;
    }
    socket.setNoDelay?.(true);
    return new RawUnixChannel(socket, server, child, dir, path);
  },
};
