/**
 * hostile-peer.ts: drives test/fixtures/bus-hostile.js (a scriptable attacker on the wire) from
 * a test: what it received, line by line, and commands to send envelopes or raw frames.
 *
 * Owns the child process: stop() ends it (stdin closed, then SIGKILL after 5 s) and reaps it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exitOf } from './peers.js';

export const BUS_HOSTILE = fileURLToPath(new URL('../fixtures/bus-hostile.js', import.meta.url));

/** One envelope the hostile peer received. */
export interface Seen {
  type: number;
  id: number;
  to: string;
  from: string;
  payload: unknown;
  hops: number;
}

export class HostilePeer {
  readonly lines: unknown[] = [];
  private readonly waiters = new Set<() => void>();
  private constructor(
    readonly node: string,
    readonly process: ChildProcess,
  ) {
    let buf = '';
    process.stdout!.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(JSON.parse(buf.slice(0, nl)));
        buf = buf.slice(nl + 1);
      }
      for (const w of [...this.waiters]) w();
    });
    process.stderr!.on('data', (d: Buffer) => globalThis.process.stderr.write(d));
  }

  /**
   * Connects a hostile peer named `node` to `address`: a version 1 hello, none (`manual`), or
   * a version 2 hello and proof of `secret` (`v2`, computed from PROTOCOL.md B.4 by the fixture).
   */
  static async start(address: string, node: string, manual: boolean | 'v2' = false, secret?: string): Promise<HostilePeer> {
    const mode = manual === 'v2' ? ['v2'] : manual ? ['manual'] : [];
    const env = { ...globalThis.process.env, HOSTILE_SECRET: secret ?? '' };
    const proc = spawn(globalThis.process.execPath, [BUS_HOSTILE, address, node, ...mode], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const peer = new HostilePeer(node, proc);
    await peer.waitFor((l) => l === 'connected', 'connected');
    return peer;
  }

  /** Envelopes received so far. */
  get seen(): Seen[] {
    return this.lines.filter((l): l is Seen => typeof l === 'object' && l !== null && 'type' in l);
  }

  /** The close line, once the link ended. */
  get closed(): { closed: string; error?: string } | undefined {
    return this.lines.find((l): l is { closed: string } => typeof l === 'object' && l !== null && 'closed' in l);
  }

  /** Sends commands; several in one write, so they leave in one tick. */
  send(...cmds: ({ send: [number, number, string, string, unknown, number?] } | { raw: string })[]): void {
    this.process.stdin!.write(cmds.map((c) => `${JSON.stringify(c)}\n`).join(''));
  }

  /** Resolves with the first line (old or new) that `pred` accepts; rejects after `ms`, naming `what`. */
  waitFor<T = unknown>(pred: (line: unknown) => boolean, what: string, ms = 15_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.lines.find(pred);
        if (hit === undefined) return false;
        cleanup();
        resolve(hit as T);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`hostile peer ${this.node}: no ${what} within ${ms} ms; got ${JSON.stringify(this.lines).slice(0, 2000)}`));
      }, ms);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.waiters.delete(onLine);
      };
      const onLine = (): void => void check();
      if (!check()) this.waiters.add(onLine);
    });
  }

  /** The first envelope matching `pred`. */
  envelope(pred: (e: Seen) => boolean, what: string, ms?: number): Promise<Seen> {
    return this.waitFor<Seen>((l) => typeof l === 'object' && l !== null && 'type' in l && pred(l as Seen), what, ms);
  }

  async stop(): Promise<void> {
    this.process.stdin!.end();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await exitOf(this.process);
    clearTimeout(timer);
  }
}
