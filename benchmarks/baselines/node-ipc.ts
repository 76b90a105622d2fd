/**
 * node-ipc.ts: optional baseline: the `node-ipc` package's Unix socket server with its
 * default JSON messages (json-messages.ts), to peers/node-ipc-peer.ts. Runs only when the
 * user has installed node-ipc (never a dependency: versions 10.1.1-10.1.3 and 9.2.2 shipped
 * protestware). emit() gives no backpressure, so sinks are paced by credit.ts.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Channel } from '../channel.js';
import { exitOf, spawnPeer, unlessExits } from '../../src/cli/child-process.js';
import { peerScript } from '../peer-script.js';
import type { OpenContext, Subject } from '../subject.js';
import { makeTempDirSync, ownFile, removeOwnedFile, removeTempDir } from '../tmp.js';
import { Credit } from './credit.js';
import { JsonChannel, type JsonProbe, type JsonReply } from './json-messages.js';
import { newNodeIpc, type NodeIpc } from './node-ipc-api.js';

/** Bytes of sinks in flight at most (the peer's acks pace the rest; credit.ts). */
export const NODE_IPC_HIGH_WATER = 1024 * 1024;

class NodeIpcChannel extends JsonChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private readonly credit = new Credit(NODE_IPC_HIGH_WATER);

  constructor(
    private readonly ipc: NodeIpc,
    private readonly socket: Socket,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly path: string,
  ) {
    super();
    ipc.server.on('message', (m) => this.receive(m as JsonReply));
  }

  protected override onAck(phase: number, count: number): void {
    this.credit.ack(phase, count);
  }

  protected post(m: JsonProbe, bytes: number): boolean {
    const open = m.t === 's' ? this.credit.sent(m.n, bytes) : this.credit.open;
    this.ipc.server.emit(this.socket, 'message', m);
    return open;
  }

  drain(): Promise<void> {
    return this.credit.drain();
  }

  async close(): Promise<void> {
    const exited = exitOf(this.child, 2000);
    this.socket.end();
    this.ipc.server.stop();
    await exited;
    removeOwnedFile(this.path);
    removeTempDir(this.dir);
  }
}

export const nodeIpcSubject: Subject = {
  name: 'node-ipc',
  kind: 'baseline',
  note: 'optional package: JSON over a Unix socket',
  async open(ctx: OpenContext): Promise<Channel> {
    const ipc = await newNodeIpc('switchyard-bench');
    const dir = makeTempDirSync();
    const path = ownFile(`${dir}/node-ipc.sock`);
    const connected = new Promise<Socket>((resolve) => {
      ipc.serve(path, () => ipc.server.on('message', (m, socket) => (m as { t?: string }).t === 'ready' && resolve(socket)));
      ipc.server.start();
    });
    const child = spawnPeer(peerScript('node-ipc-peer'), [path]);
    let socket: Socket;
    try {
      await ctx.onPeerProcess(child.pid!);
      socket = await unlessExits(child, connected, 'node-ipc');
    } catch (err) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
      ipc.server.stop();
      removeOwnedFile(path);
      removeTempDir(dir);
      throw err;
    }
    return new NodeIpcChannel(ipc, socket, child, dir, path);
  },
};
