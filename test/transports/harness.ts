/**
 * harness.ts: runs the conformance suite's far end as a real child process, for any
 * registered transport. Parent/child transports (those with pair()) spawn the peer with the
 * inherited end; addressed transports listen here and let the peer connect.
 *
 * Owns: the listener it starts (closed by stop()), every child it spawns (killed and reaped
 * by stop()), and the temp directory addressed transports put their files in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { listen, spawnWithLink, type Link, type LinkOptions, type Listener, type Transport } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';

export const PEER = fileURLToPath(new URL('../fixtures/peer.js', import.meta.url));

export interface Peer {
  readonly link: Link;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** What the peer printed, once it has exited (empty unless opened with captureStdout). */
  readonly stdout: Promise<string>;
}

/** Resolves with the next frame delivered on `link` (replacing its handler). */
export function nextFrame(link: Link, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no frame within ${timeoutMs} ms`)), timeoutMs);
    link.onFrame((frame) => {
      clearTimeout(timer);
      link.onFrame(() => {});
      resolve(Buffer.from(frame));
    });
  });
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export class Fixture {
  readonly scheme: string;
  readonly dir: string;
  private readonly transport: Transport;
  private listener: Listener | undefined;
  private options: LinkOptions = {};
  private readonly accepted: Link[] = [];
  private waiting: ((link: Link) => void) | undefined;
  private readonly children = new Set<ChildProcess>();
  private opening: Promise<unknown> = Promise.resolve();

  /**
   * `named`: an addressed listener even where the transport also has pair() (shm://name).
   * `query`: appended to the listen address (nats: `?upgrade=0` keeps links on the broker).
   */
  constructor(transport: Transport, private readonly named = false, private readonly query = '') {
    this.transport = transport;
    this.scheme = transport.scheme;
    this.dir = makeTempDir();
      }

  get isPair(): boolean {
    return this.transport.pair !== undefined && !this.named;
  }

  get listenerAddress(): URL | undefined {
    return this.listener?.address;
  }

  /** Starts the parent side: a listener (addressed transports), or remembers `options` (pairs). */
  async start(options: LinkOptions = {}): Promise<void> {
    this.options = options;
    if (this.isPair) return;
    this.listener = await listen(privateAddress(this.scheme, this.dir) + this.query, (link) => {
      const w = this.waiting;
      if (w) {
        this.waiting = undefined;
        w(link);
      } else this.accepted.push(link);
    }, options);
  }

  /** Spawns a peer in `mode` and resolves once it has said "ready". One at a time. */
  /** With `captureStdout`, `Peer.stdout` collects what the peer prints. */
  open(mode: string, peerMaxFrame?: number, captureStdout = false): Promise<Peer> {
    const next = this.opening.then(() => this.openNow(mode, peerMaxFrame, captureStdout));
    this.opening = next.catch(() => {});
    return next;
  }

  private async openNow(mode: string, peerMaxFrame: number | undefined, captureStdout: boolean): Promise<Peer> {
    const extra = peerMaxFrame ? [String(peerMaxFrame)] : [];
    let link: Link;
    let child: ChildProcess;
    if (this.isPair) {
      ({ link, child } = await spawnWithLink(this.scheme, PEER, {
        ...this.options,
        args: ['inherit', mode, ...extra],
        stdio: captureStdout ? 'pipe' : 'inherit',
      }));
      this.children.add(child);
    } else {
      child = spawn(process.execPath, [PEER, this.listener!.address.href, mode, ...extra], {
        stdio: captureStdout ? 'pipe' : 'inherit',
      });
      this.children.add(child);
      link = await this.nextAccepted();
    }
    const ready = await nextFrame(link);
    if (ready.toString() !== 'ready') throw new Error(`peer said ${JSON.stringify(ready.toString())}, not "ready"`);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
    const exited = exitOf(child);
    return { link, child, exited, stdout: exited.then(() => out) };
  }

  private nextAccepted(timeoutMs = 10_000): Promise<Link> {
    const queued = this.accepted.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no ${this.scheme} link accepted within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (link) => {
        clearTimeout(timer);
        resolve(link);
      };
    });
  }

  /** Closes the listener, kills and reaps every child. */
  async stop(): Promise<void> {
    await this.listener?.close();
    this.listener = undefined;
    for (const link of this.accepted.splice(0)) await link.close();
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exitOf(child);
    }
    this.children.clear();
  }
}
