/**
 * removed-object.test.ts: the filesystem (or IPC namespace) object of a listener removed by
 * someone else under a live link: the unix socket file, the fifo's request FIFO, the shm
 * record in /dev/shm, the msgq queue (`ipcrm`). The far end is a real child process
 * (test/fixtures/peer.ts in echo mode, connected to our listener).
 *
 * Generated only for the transports that have such an object: pipe, socketpair and the shm
 * pair are anonymous (nothing has a name to remove), and tcp and udp ports are not
 * filesystem objects.
 *
 * Outcome (docs/GUARANTEES.md, "removed object"):
 * - unix, fifo, shm://name: the live link keeps working (both ends hold open fds or
 *   mappings; the name only served to meet). A new connect fails at once with a
 *   TransportError (ENOENT; ECONNREFUSED for shm, whose record is gone). A new listen() at the same address works, and closing the old listener
 *   afterwards leaves the new one's name alone (a new connect still reaches it).
 * - msgq: the queue is the link, so removing it ends every link on it: each end sees the
 *   link end as peer-gone (within a bound), and the child exits; a new connect to the key is
 *   ENOENT; a new listen() works.
 * - Afterwards nothing of the case is left in ipcs, /dev/shm or its temp dir.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { unlinkSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, listen, PeerGoneError, type Link, type Listener } from '../../src/index.js';
import { pathOf } from '../../src/transports/core/address.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { transportRejection } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';
import { withTimeout } from '../setup/timing.js';
import { exited, expectNothingLeft, queueExists } from './helpers.js';

const PEER = fileURLToPath(new URL('../fixtures/peer.js', import.meta.url));

/** A listener that hands each accepted link to whoever waits for the next one. */
class Accepting {
  private readonly queue: Link[] = [];
  private waiting: ((l: Link) => void) | undefined;
  readonly links: Link[] = [];
  listener!: Listener;

  static async at(address: string): Promise<Accepting> {
    const a = new Accepting();
    a.listener = await listen(address, (l) => {
      a.links.push(l);
      if (a.waiting) {
        const w = a.waiting;
        a.waiting = undefined;
        w(l);
      } else a.queue.push(l);
    });
    return a;
  }

  next(): Promise<Link> {
    const l = this.queue.shift();
    if (l) return Promise.resolve(l);
    return withTimeout(new Promise<Link>((r) => (this.waiting = r)), 15_000, 'an accepted link');
  }
}

/** One echoing child connected to `a`, and our end of its link (its "ready" consumed). */
interface Echo {
  link: Link;
  child: ChildProcess;
  /** Sends `text` and resolves with what comes back. */
  roundTrip(text: string): Promise<string>;
}

const children: ChildProcess[] = [];

async function echoChild(a: Accepting): Promise<Echo> {
  const child = spawn(process.execPath, [PEER, a.listener.address.href, 'echo'], { stdio: 'inherit' });
  children.push(child);
  const link = await a.next();
  let waiter: ((s: string) => void) | undefined;
  const ready = new Promise<void>((resolve) =>
    link.onFrame((f) => {
      const s = Buffer.from(f).toString();
      if (s === 'ready') resolve();
      else waiter?.(s);
    }),
  );
  await withTimeout(ready, 15_000, 'the echo child is ready');
  return {
    link,
    child,
    roundTrip: (text) => {
      const back = new Promise<string>((r) => (waiter = r));
      link.send(Buffer.from(text));
      return withTimeout(back, 10_000, `the echo of ${text}`);
    },
  };
}

/** The msqid of the queue with `key` (ipcs -q: key msqid owner ...). */
function msqidOf(key: number): number {
  const hex = `0x${key.toString(16).padStart(8, '0')}`;
  const row = execFileSync('ipcs', ['-q'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[0] === hex);
  if (!row) throw new Error(`no queue with key ${hex} in ipcs -q`);
  return Number(row[1]);
}

/**
 * The named object of each transport that has one, how a third party removes it, and the
 * code a new connect() then fails with.
 */
const NAMED: Record<string, { remove(address: string): void; refusedWith: string }> = {
  // the socket file
  unix: { remove: (address) => unlinkSync(pathOf(new URL(address))), refusedWith: 'ENOENT' },
  // the request FIFO (the client FIFOs are unlinked by the handshake already)
  fifo: { remove: (address) => unlinkSync(pathOf(new URL(address))), refusedWith: 'ENOENT' },
  // the listener record
  shm: { remove: (address) => unlinkSync(`/dev/shm/switchyard.${new URL(address).host}`), refusedWith: 'ECONNREFUSED' },
};

describe('fault: the filesystem object removed under a live link', function () {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const o of open.splice(0).reverse()) await o.close();
  });

  for (const [scheme, { remove, refusedWith }] of Object.entries(NAMED)) {
    const label = scheme === 'shm' ? 'shm-named' : scheme;
    it(`over ${label}: the live link keeps working, a new connect fails with a TransportError (${refusedWith}), a new listen works and outlives the old one's close; nothing left`, async function () {
      const dir = makeTempDir();
      const address = privateAddress(scheme, dir, 'rm');
      const a = await Accepting.at(address);
      open.push(a.listener);
      const first = await echoChild(a);
      open.push(first.link);
      expect(await first.roundTrip('before')).to.equal('before');

      remove(address);
      expect(await first.roundTrip('after removal'), 'the live link').to.equal('after removal');
      const refused = await transportRejection(connect(address, { timeoutMs: 3000 }));
      expect(refused.code, refused.message).to.equal(refusedWith);

      const b = await Accepting.at(address);
      open.push(b.listener);
      const second = await echoChild(b);
      open.push(second.link);
      expect(await second.roundTrip('to the new listener')).to.equal('to the new listener');

      await a.listener.close();
      const third = await echoChild(b);
      open.push(third.link);
      expect(await third.roundTrip('after the old close'), "the new listener's name survived the old one's close").to.equal('after the old close');
      expect(await first.roundTrip('still'), 'the first link outlives its listener').to.equal('still');

      for (const o of open.splice(0).reverse()) await o.close();
      const pids = [first, second, third].map((e) => e.child.pid!);
      await Promise.all([first, second, third].map((e) => withTimeout(exited(e.child), 10_000, 'a child exits once its link is closed')));
      expectNothingLeft(`after removing the ${label} name`, [...pids, process.pid], dir, [basename(dir)]);
    });
  }

  it('over msgq: ipcrm of the queue ends the live link as peer-gone on both ends and the child exits; a new connect is ENOENT, a new listen works; nothing left', async function () {
    const dir = makeTempDir();
    const a = await Accepting.at('msgq://0');
    open.push(a.listener);
    const first = await echoChild(a);
    open.push(first.link);
    expect(await first.roundTrip('before')).to.equal('before');
    const msqid = msqidOf(Number(a.listener.address.host));

    execFileSync('ipcrm', ['-q', String(msqid)]);
    const reason = await withTimeout(first.link.closed, 10_000, 'our end of the link ends');
    // the queue's removal wakes the receive threads with EIDRM: peer-gone, as msgq.ts says
    expect(reason.kind, String(reason.error)).to.equal('peer-gone');
    expect(reason.error).to.be.instanceOf(PeerGoneError);
    const refused = await transportRejection(connect(a.listener.address.href, { timeoutMs: 3000 }));
    expect(refused.code, refused.message).to.equal('ENOENT');
    const exit = await withTimeout(exited(first.child), 10_000, 'the child exits once its link ended');
    expect(exit.signal).to.equal(null);

    const b = await Accepting.at('msgq://0');
    open.push(b.listener);
    const second = await echoChild(b);
    open.push(second.link);
    expect(await second.roundTrip('to the new queue')).to.equal('to the new queue');
    const newId = msqidOf(Number(b.listener.address.host));

    for (const o of open.splice(0).reverse()) await withTimeout(o.close(), 10_000, 'close after ipcrm');
    await withTimeout(exited(second.child), 10_000, 'the second child exits');
    expect(queueExists(newId), 'the new queue is removed on close').to.equal(false);
    expectNothingLeft('after ipcrm of the msgq queue', [first.child.pid!, second.child.pid!, process.pid], dir);
  });
});
