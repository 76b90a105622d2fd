/**
 * peers.ts: starts the bus suite's far sides as real child processes, for any registered
 * transport. Pair transports (those with pair()) spawn the child with the inherited end and
 * attach our end; addressed transports make our system listen (one listener per Bench, in a
 * fresh temp dir, at privateAddress()) and let the child connect. Nothing here names a
 * transport.
 *
 * Owns: its system (stopped by stop()), every child it spawns (stopped gracefully, else killed, and always reaped by stop()),
 * and its listener (closed by stop(), which removes the listener's files).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { spawnWithLink, type ActorSystem, type RemoteSystem, type SystemListener, type Transport } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';

export const BUS_PEER = fileURLToPath(new URL('../fixtures/bus-peer.js', import.meta.url));
export const BUS_RAW = fileURLToPath(new URL('../fixtures/bus-raw.js', import.meta.url));

export interface PeerOptions {
  sendStacks?: boolean;
  heartbeatMs?: number;
  maxFrame?: number;
  /** Relay between its peers (B.8); off by default, as in a system. */
  forward?: boolean;
}

/** A child process on the bus. */
export interface Child {
  readonly node: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
  /** Everything it printed on stdout (complete once it has exited). */
  stdout(): string;
}

/** A bus-peer child and our connection to it. */
export interface PeerChild extends Child {
  readonly remote: RemoteSystem;
}

export function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Our system and the children it talks to over one transport. */
export class Bench {
  readonly scheme: string;
  readonly dir: string;
  private listener: SystemListener | undefined;
  private readonly children = new Set<ChildProcess>();
  private static seq = 0;

  constructor(
    readonly transport: Transport,
    readonly system: ActorSystem,
    private readonly tag = 'bus',
    private readonly linkMaxFrame?: number,
    /** Appended to the listen address (nats: `?upgrade=0` keeps the links on the broker). */
    private readonly query = '',
  ) {
    this.scheme = transport.scheme;
    this.dir = makeTempDir();
      }

  get isPair(): boolean {
    return this.transport.pair !== undefined;
  }

  /** A fresh node name for a child. */
  static name(prefix: string): string {
    return `${prefix}-${process.pid}-${++Bench.seq}`;
  }

  async start(): Promise<void> {
    if (this.isPair) return;
    const opts = this.linkMaxFrame ? { maxFrame: this.linkMaxFrame } : {};
    this.listener = await this.system.listen(privateAddress(this.scheme, this.dir, this.tag) + this.query, opts);
  }

  /** Spawns a bus-peer child and resolves once its system is connected to ours. */
  async peer(options: PeerOptions = {}, prefix = 'peer'): Promise<PeerChild> {
    const node = Bench.name(prefix);
    const { child, remote } = await this.spawnConnected(BUS_PEER, node, [node, JSON.stringify(options)]);
    return { ...child, remote: await remote };
  }

  /** Spawns a hostile bus-raw child running `which`; `remote` is our side of its connection. */
  async raw(which: string, peerMaxFrame: number): Promise<{ child: Child; remote: Promise<RemoteSystem> }> {
    const node = Bench.name('raw');
    return this.spawnConnected(BUS_RAW, node, [node, which, String(peerMaxFrame)]);
  }

  private async spawnConnected(module: string, node: string, args: string[]): Promise<{ child: Child; remote: Promise<RemoteSystem> }> {
    let proc: ChildProcess;
    let remote: Promise<RemoteSystem>;
    if (this.isPair) {
      const opts = this.linkMaxFrame ? { maxFrame: this.linkMaxFrame } : {};
      const spawned = await spawnWithLink(this.scheme, module, { ...opts, args: ['inherit', ...args], stdio: 'pipe' });
      proc = spawned.child;
      this.adopt(proc);
      remote = this.system.attach(spawned.link);
    } else {
      // subscribe before the child exists: connections$ is hot
      remote = firstValueFrom(this.system.connections$.pipe(filter((r) => r.node === node), timeout(15_000)));
      proc = spawn(process.execPath, [module, 'connect', this.listener!.address, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.adopt(proc);
    }
    remote.catch(() => {});
    return { child: this.describe(node, proc), remote };
  }

  /** Spawns a bus-peer child that listens at `address` (an addressed scheme); resolves with its real address. */
  async listeningPeer(address: string, options: PeerOptions = {}, prefix = 'listener'): Promise<Child & { address: string }> {
    const node = Bench.name(prefix);
    const proc = spawn(process.execPath, [BUS_PEER, 'listen', address, node, JSON.stringify(options)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.adopt(proc);
    const child = this.describe(node, proc);
    for (let i = 0; i < 300; i++) {
      const m = /^listening (\S+)$/m.exec(child.stdout());
      if (m) return { ...child, address: m[1]! };
      if (proc.exitCode !== null) break;
      await sleep(20);
    }
    throw new Error(`${node} did not start listening at ${address}`);
  }

  private adopt(proc: ChildProcess): void {
    this.children.add(proc);
    proc.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  }

  private describe(node: string, proc: ChildProcess): Child {
    let out = '';
    proc.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
    return { node, process: proc, exited: exitOf(proc), stdout: () => out };
  }

  /**
   * Stops our system (a connected child exits when its connection ends), closes every
   * child's stdin (a listening child stops on that), waits for them, and SIGKILLs what is left.
   */
  async stop(): Promise<void> {
    await this.listener?.close();
    this.listener = undefined;
    await this.system.stop();
    for (const c of this.children) c.stdin?.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.children].map(exitOf)), new Promise((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exitOf(c);
    }
    this.children.clear();
  }
}
