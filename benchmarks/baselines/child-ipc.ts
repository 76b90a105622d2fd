/**
 * child-ipc.ts: baselines: Node's built-in child_process IPC channel (`fork`-style `send()`),
 * with `serialization: 'json'` and `'advanced'`, to peers/child-ipc-peer.ts.
 *
 * 'advanced' carries the same byte probes as everything else (a Buffer, structured-cloned).
 * 'json' carries what a JSON user would send (json-messages.ts): `{ t, n, d }` with `d` a
 * string of `size` characters; the peer echoes the object back unchanged.
 * Backpressure: send()'s callback fires once Node has written the message to the channel; we
 * stop sending above HIGH_WATER bytes not yet written, as a careful user would (Node documents
 * the callback for flow control; a plain send loop paced by send()'s return value measured no
 * faster, in either mode). One send() per message, never an array of them per call: batching
 * would change what a message is, and every subject is measured with one send() per message.
 */
import { spawn, type ChildProcess, type Serializable } from 'node:child_process';
import { ByteChannel, type Channel } from '../channel.js';
import { exitOf, unlessExits } from '../../src/cli/child-process.js';
import { peerScript } from '../peer-script.js';
import type { OpenContext, Subject } from '../subject.js';
import { JsonChannel, type JsonProbe, type JsonReply } from './json-messages.js';

const HIGH_WATER = 1024 * 1024;

export type IpcSerialization = 'json' | 'advanced';

/** Unwritten-bytes accounting shared by both modes. */
class Backlog {
  private pending = 0;
  private waiters: Array<() => void> = [];

  add(bytes: number): () => void {
    this.pending += bytes;
    return () => {
      this.pending -= bytes;
      if (this.pending < HIGH_WATER) for (const w of this.waiters.splice(0)) w();
    };
  }

  get open(): boolean {
    return this.pending < HIGH_WATER;
  }

  drain(): Promise<void> {
    return this.open ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

async function closeChild(child: ChildProcess): Promise<void> {
  const exited = exitOf(child);
  if (child.connected) child.disconnect();
  await exited;
}

class AdvancedChannel extends ByteChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private readonly backlog = new Backlog();

  constructor(private readonly child: ChildProcess) {
    super();
    child.on('message', (m: Uint8Array) => this.deliver(m));
  }

  protected sendBytes(bytes: Buffer): boolean {
    this.child.send(bytes, this.backlog.add(bytes.byteLength));
    return this.backlog.open;
  }

  drain(): Promise<void> {
    return this.backlog.drain();
  }

  close(): Promise<void> {
    return closeChild(this.child);
  }
}

class JsonIpcChannel extends JsonChannel {
  readonly reliable = true;
  readonly maxMessage = 0xffff_ffff;
  private readonly backlog = new Backlog();

  constructor(private readonly child: ChildProcess) {
    super();
    child.on('message', (m: JsonReply) => this.receive(m));
  }

  protected post(m: JsonProbe, bytes: number): boolean {
    this.child.send(m as unknown as Serializable, this.backlog.add(bytes));
    return this.backlog.open;
  }

  drain(): Promise<void> {
    return this.backlog.drain();
  }

  close(): Promise<void> {
    return closeChild(this.child);
  }
}

export function childIpcSubject(serialization: IpcSerialization): Subject {
  return {
    name: `child_process (${serialization})`,
    kind: 'baseline',
    note: serialization === 'json' ? 'send({t,n,d: string})' : 'send(Buffer), structured clone',
    async open(ctx: OpenContext): Promise<Channel> {
      const child = spawn(process.execPath, [peerScript('child-ipc-peer'), serialization], {
        stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
        serialization,
      });
      try {
        await ctx.onPeerProcess(child.pid!);
        await unlessExits(
          child,
          new Promise<void>((resolve) => child.once('message', () => resolve())),
          `child_process (${serialization})`,
        );
      } catch (err) {
        // failed pinning or a peer that died at start: no child may outlive the bench
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exitOf(child);
        throw err;
      }
      return serialization === 'json' ? new JsonIpcChannel(child) : new AdvancedChannel(child);
    },
  };
}
