/**
 * shm-rendezvous.test.ts: the hardening of `shm://name`'s handshake (shm-rendezvous.ts,
 * shm-record.ts): link segments are sealed memfds passed over the socket and never named;
 * both ends check who is on the other end (SO_PEERCRED); the client checks what it got;
 * racing listens on one stale name leave exactly one listener.
 *
 * What is real and what is not: every test uses real sockets, fds and processes, except
 * that a peer of another uid cannot be made without privileges. So the uid comparisons are
 * unit-tested with fake credentials, and the listener's refusal path is driven end to end by
 * making this process's euid look different to the listener (process.geteuid replaced for
 * the duration of one connect: the real SO_PEERCRED uid then differs from it). The client's
 * pid check runs end to end against an impostor: a server of our uid behind a record that
 * names another pid.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, ftruncateSync, openSync, readdirSync, readSync, readFileSync, readlinkSync, unlinkSync, watch, writeFileSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, listen, TransportError, type Link, type Listener } from '../../src/index.js';
import { native, type ReceivedFd } from '../../src/native.js';
import { readRecord } from '../../src/transports/shm/record.js';
import { checkListener, MAX_PENDING_HANDSHAKES, refusal, SEGMENT_BYTE, socketPath } from '../../src/transports/shm/rendezvous.js';
import { fdOf } from '../../src/transports/core/socket-fd.js';
import { transportRejection as rejection } from '../setup/outcomes.js';
import { withTimeout } from '../setup/timing.js';
import { makeTempDir } from '../setup/tmp.js';
import { nextFrame } from './harness.js';

const PARENT = fileURLToPath(new URL('../fixtures/shm-parent.js', import.meta.url));
const RING = 64 * 1024;
const SEGMENT_BYTES = 4096 + 2 * RING;

function uniqueName(): string {
  return `sytest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

function devShm(prefix = 'switchyard'): string[] {
  return readdirSync('/dev/shm').filter((e) => e.startsWith(prefix)).sort();
}

/** Mappings and open fds of switchyard memfds in this process. */
function memfds(): { mapped: number; open: number } {
  const mapped = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('/memfd:switchyard-shm')).length;
  let open = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:switchyard-shm')) open++;
    } catch {
      // the fd of readdir itself, gone already
    }
  }
  return { mapped, open };
}

function dial(token: string): Promise<ReceivedFd> {
  return new Promise((resolve, reject) => native.connectReceiveFd(socketPath(token), 2000, (e, r) => (e ? reject(e) : resolve(r!))));
}

function writeStaleRecord(name: string, pid: number): void {
  // A record as a listener of any version leaves it: JSON, mode 0600, nobody holding it.
  writeFileSync(`/dev/shm/switchyard.${name}`, JSON.stringify({ v: 1, pid, token: '0'.repeat(32) }), { mode: 0o600 });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

describe('shm rendezvous (shm://name)', function () {
  const listeners: Listener[] = [];
  const cleanups: Array<() => void | Promise<void>> = [];
  let before: string[];

  beforeEach(function () {
    before = devShm();
  });

  afterEach(async function () {
    for (const c of cleanups.splice(0).reverse()) await c();
    for (const l of listeners.splice(0)) await l.close();
    expect(devShm(), 'nothing of ours left in /dev/shm').to.deep.equal(before);
  });

  describe('link segments', function () {
    it('never appear in /dev/shm: during many handshakes the only name that shows up is none at all', async function () {
      const name = uniqueName();
      const l = await listen(`shm://${name}?size=${RING}`, (a) => a.onFrame((f) => a.send(Buffer.from(f))));
      listeners.push(l);
      const seen: string[] = [];
      const watcher = watch('/dev/shm', (_event, file) => {
        if (file !== null && file.startsWith(`switchyard.${name}`)) seen.push(file);
      });
      try {
        for (let i = 0; i < 10; i++) {
          const c = await connect(`shm://${name}`);
          expect((await (async () => {
            const back = nextFrame(c);
            c.send(Buffer.from(`hi ${i}`));
            return back;
          })()).toString()).to.equal(`hi ${i}`);
          await c.close();
        }
        await new Promise((r) => setTimeout(r, 50)); // let inotify's queue reach us
      } finally {
        watcher.close();
      }
      expect(seen).to.deep.equal([]);
    });

    it('come sealed: a client cannot shrink or grow the one it gets, and the listener goes on using it', async function () {
      const name = uniqueName();
      let accepted: Link | undefined;
      const got = new Promise<Link>((resolve) => {
        void listen(`shm://${name}?size=${RING}`, (a) => {
          accepted = a;
          resolve(a);
        }).then((l) => listeners.push(l));
      });
      while (listeners.length === 0) await new Promise((r) => setTimeout(r, 5));
      const record = readRecord(name, `shm://${name}`)!;
      // A hand-made client that does everything the real one does, and then tries to resize.
      const r = await dial(record.token);
      cleanups.push(() => {
        closeSync(r.fd);
        if (accepted === undefined) closeSync(r.socket);
      });
      expect(r.byte).to.equal(SEGMENT_BYTE);
      expect(r.fd).to.be.at.least(0);
      for (const size of [0, 4096, SEGMENT_BYTES * 2]) {
        let code: string | undefined;
        try {
          ftruncateSync(r.fd, size);
        } catch (err) {
          code = (err as NodeJS.ErrnoException).code;
        }
        expect(code, `ftruncate to ${size}`).to.equal('EPERM');
      }
      expect(fstatSync(r.fd).size).to.equal(SEGMENT_BYTES);
      writeSync(r.socket, 'k');
      const link = await withTimeout(got, 5000, 'the listener to hand the link over');
      // The listener writes its ring, in the very memory the client holds (a shrunk segment
      // would have been SIGBUS for this process here).
      link.send(Buffer.alloc(1000, 0xab));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const head = Buffer.alloc(20);
      // ring 0's first record: u32 length, u32 flags, then its one frame: u32 BE length, payload
      readSync(r.fd, head, 0, 20, 4096);
      expect(head.readUInt32LE(0)).to.equal(4 + 1000);
      expect(head.readUInt32BE(8)).to.equal(1000);
      expect(head.subarray(12).equals(Buffer.alloc(8, 0xab))).to.equal(true);
      closeSync(r.socket);
      const reason = await withTimeout(link.closed, 2000, 'peer-gone after the hand-made client closed');
      expect(reason.kind).to.equal('peer-gone');
    });
  });

  describe('handshakes in flight', function () {
    /** A client that takes its segment and holds back the ack: the listener's link is pending. */
    async function unacked(token: string): Promise<ReceivedFd> {
      const r = await dial(token);
      expect(r.fd).to.be.greaterThan(-1);
      cleanups.push(() => {
        closeSync(r.fd);
        closeSync(r.socket);
      });
      return r;
    }

    it('end with listener.close(): an ack sent after it reaches no onLink, and nothing stays mapped', async function () {
      const name = uniqueName();
      let linked = 0;
      const l = await listen(`shm://${name}?size=${RING}`, (a) => {
        linked++;
        void a.close();
      });
      const { token } = readRecord(name, `shm://${name}`)!;
      const r = await unacked(token);
      const mappedBefore = memfds().mapped;
      await l.close();
      // the listener unmapped its side: only our own mapping (none: we never mapped) is left
      expect(memfds().mapped).to.be.lessThan(mappedBefore);
      try {
        writeSync(r.socket, 'k');
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).to.be.oneOf(['EPIPE', 'ECONNRESET']);
      }
      await new Promise((res) => setTimeout(res, 100));
      expect(linked).to.equal(0);
    });

    it(`are capped at ${MAX_PENDING_HANDSHAKES}: past that new connections are dropped, and served again once the pending ones end`, async function () {
      const name = uniqueName();
      const l = await listen(`shm://${name}?size=${RING}`, (a) => a.onFrame((f) => a.send(Buffer.from(f))));
      listeners.push(l);
      const { token } = readRecord(name, `shm://${name}`)!;
      const held: ReceivedFd[] = [];
      for (let i = 0; i < MAX_PENDING_HANDSHAKES; i++) held.push(await unacked(token));
      const refused = await dial(token).then(
        (r) => {
          closeSync(r.socket);
          if (r.fd >= 0) closeSync(r.fd);
          return null;
        },
        (e: TransportError) => e,
      );
      expect(refused?.code).to.equal('ECONNRESET');
      for (const r of held.splice(0)) {
        closeSync(r.fd);
        closeSync(r.socket);
      }
      cleanups.length = 0;
      // the listener sees each EOF and forgets the handshake; then a real client gets in
      const c = await withTimeout(
        (async () => {
          for (;;) {
            try {
              return await connect(`shm://${name}`);
            } catch (err) {
              if ((err as TransportError).code !== 'ECONNRESET') throw err;
              await new Promise((res) => setTimeout(res, 20));
            }
          }
        })(),
        5000,
        'a connect after the pending handshakes ended',
      );
      const back = nextFrame(c);
      c.send(Buffer.from('after'));
      expect((await back).toString()).to.equal('after');
      await c.close();
    });
  });

  describe('peer credentials', function () {
    it('refusal(): a peer of another uid is refused, one of ours is not (fake credentials)', function () {
      expect(refusal({ pid: 10, uid: 1000, gid: 1000 }, 1000)).to.equal(null);
      expect(refusal({ pid: 10, uid: 0, gid: 0 }, 1000)).to.be.a('string').and.include('uid 0');
      expect(refusal({ pid: 10, uid: 1001, gid: 1000 }, 1000)).to.be.a('string');
    });

    it('checkListener(): another uid, or another pid than the record\'s, is ERR_SHM_PEER (fake credentials)', function () {
      expect(() => checkListener({ pid: 42, uid: 1000, gid: 1000 }, { pid: 42 }, 1000, 'shm://x')).to.not.throw();
      for (const [peer, what] of [[{ pid: 42, uid: 0, gid: 0 }, 'uid 0'], [{ pid: 43, uid: 1000, gid: 1000 }, 'pid 43']] as const) {
        let error: unknown;
        try {
          checkListener(peer, { pid: 42 }, 1000, 'shm://x');
        } catch (err) {
          error = err;
        }
        expect(error).to.be.instanceOf(TransportError);
        expect((error as TransportError).code).to.equal('ERR_SHM_PEER');
        expect((error as TransportError).message).to.include(what);
      }
    });

    it('the listener refuses a peer whose SO_PEERCRED uid is not its euid: no link, nothing mapped, the client gets ECONNRESET', async function () {
      const name = uniqueName();
      const links: Link[] = [];
      const l = await listen(`shm://${name}?size=${RING}`, (a) => links.push(a));
      listeners.push(l);
      const was = memfds();
      const real = process.geteuid!;
      // The listener compares the kernel's uid of the peer with what it believes is its euid.
      process.geteuid = () => real() + 4242;
      let err: TransportError;
      try {
        err = await rejection(connect(`shm://${name}`, { timeoutMs: 3000 }));
      } finally {
        process.geteuid = real;
      }
      expect(err.code).to.equal('ECONNRESET');
      expect(err.message).to.include('closed the connection during the handshake');
      expect(links).to.have.length(0);
      expect(memfds()).to.deep.equal(was);
      // The same client with the same credentials it really has is let in.
      const c = await connect(`shm://${name}`);
      await c.close();
    });

    describe('against an impostor (a server of our uid behind a record)', function () {
      const servers: Server[] = [];
      const sockets: Socket[] = [];

      afterEach(async function () {
        for (const s of sockets.splice(0)) s.destroy();
        for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
      });

      /** A record for `name` naming `pid`, and a server on its token that sends via `send`. */
      async function impostor(name: string, pid: number, send: (socket: number) => void): Promise<{ hungUp: Promise<void> }> {
        const token = randomBytes(16).toString('hex');
        writeFileSync(`/dev/shm/switchyard.${name}`, JSON.stringify({ v: 2, pid, token }), { mode: 0o600 });
        cleanups.push(() => unlinkSync(`/dev/shm/switchyard.${name}`));
        let closedBy: () => void;
        const closed = new Promise<void>((r) => (closedBy = r));
        const server = createServer((s) => {
          sockets.push(s);
          s.on('close', () => closedBy());
          s.on('error', () => {});
          send(fdOf(s));
        });
        servers.push(server);
        const fd = native.listenUnix(socketPath(token), 16);
        await new Promise<void>((r) => server.listen({ fd }, r));
        return { hungUp: closed };
      }

      async function refused(send: (socket: number) => void, pid = process.pid): Promise<TransportError> {
        const name = uniqueName();
        const { hungUp } = await impostor(name, pid, send);
        const was = memfds();
        const err = await rejection(connect(`shm://${name}`, { timeoutMs: 3000 }));
        await withTimeout(hungUp, 2000, 'the client to close the socket');
        expect(memfds(), 'nothing mapped, every received fd closed').to.deep.equal(was);
        return err;
      }

      it('a listener socket whose pid is not the record\'s is ERR_SHM_PEER', async function () {
        const seg = native.shmMemfd(SEGMENT_BYTES);
        cleanups.push(() => closeSync(seg));
        const err = await refused((s) => native.sendFd(s, seg, SEGMENT_BYTE), process.ppid);
        expect(err.code).to.equal('ERR_SHM_PEER');
        expect(err.message).to.include(`pid ${process.ppid}`);
      });

      it('an unsealed file of the right size is ERR_SHM_BAD_SEGMENT', async function () {
        const path = join(makeTempDir(), 'unsealed');
        const f = openSync(path, 'w+', 0o600);
        unlinkSync(path);
        ftruncateSync(f, SEGMENT_BYTES);
        cleanups.push(() => closeSync(f));
        const err = await refused((s) => native.sendFd(s, f, SEGMENT_BYTE));
        expect(err.code).to.equal('ERR_SHM_BAD_SEGMENT');
        expect(err.message).to.include('not sealed');
      });

      it('something that is not a file (a pipe) is ERR_SHM_BAD_SEGMENT', async function () {
        const [r, w] = native.pipe();
        cleanups.push(() => {
          closeSync(r);
          closeSync(w);
        });
        const err = await refused((s) => native.sendFd(s, r, SEGMENT_BYTE));
        expect(err.code).to.equal('ERR_SHM_BAD_SEGMENT');
      });

      it('a sealed memfd of a size no ring pair has is ERR_SHM_BAD_SEGMENT', async function () {
        const seg = native.shmMemfd(5000);
        cleanups.push(() => closeSync(seg));
        const err = await refused((s) => native.sendFd(s, seg, SEGMENT_BYTE));
        expect(err.code).to.equal('ERR_SHM_BAD_SEGMENT');
      });

      it('a byte without an fd, or another byte, is ERR_SHM_HANDSHAKE', async function () {
        expect((await refused((s) => void writeSync(s, Buffer.from([SEGMENT_BYTE])))).code).to.equal('ERR_SHM_HANDSHAKE');
        const seg = native.shmMemfd(SEGMENT_BYTES);
        cleanups.push(() => closeSync(seg));
        expect((await refused((s) => native.sendFd(s, seg, 0x7f))).code).to.equal('ERR_SHM_HANDSHAKE');
      });
    });
  });

  describe('racing listens on one name', function () {
    const cases: Array<[string, () => number | null]> = [
      ['no record', () => null],
      ['a stale record of a dead pid', () => 2 ** 22 + 1],
      ['a stale record naming a live pid (pid reuse) whose socket is gone', () => process.pid],
    ];
    for (const [what, stalePid] of cases) {
      it(`two listen() in the same tick on ${what}: exactly one listens, the other is EADDRINUSE`, async function () {
        const name = uniqueName();
        const pid = stalePid();
        if (pid !== null) writeStaleRecord(name, pid);
        const results = await Promise.allSettled([0, 1].map((i) => listen(`shm://${name}?size=${RING}`, (a) => a.onFrame(() => a.send(Buffer.from(`from ${i}`))))));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ l: r.value, i }] : []));
        listeners.push(...won.map((w) => w.l));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as TransportError] : []));
        expect(won, 'listens that succeeded').to.have.length(1);
        expect(lost[0]).to.be.instanceOf(TransportError);
        expect(lost[0]!.code).to.equal('EADDRINUSE');
        // The name leads to the winner, and stays its own until it closes.
        expect(devShm(`switchyard.${name}`)).to.deep.equal([`switchyard.${name}`]);
        const c = await connect(`shm://${name}`);
        const back = nextFrame(c);
        c.send(Buffer.from('who?'));
        expect((await back).toString()).to.equal(`from ${won[0]!.i}`);
        await c.close();
        await listeners.pop()!.close();
      });
    }

    it('two processes listening at once on a stale name: one listens, the other gets EADDRINUSE (3 rounds)', async function () {
      const name = uniqueName();
      for (let round = 0; round < 3; round++) {
        writeStaleRecord(name, process.pid);
        const kids = [0, 1].map(() => spawn(process.execPath, [PARENT, 'listen', name], { stdio: ['ignore', 'pipe', 'inherit'] }));
        try {
          const lines = await Promise.all(
            kids.map((k) => withTimeout(new Promise<string>((resolve) => createInterface({ input: k.stdout! }).once('line', resolve)), 10_000, 'the fixture to answer')),
          );
          const said = lines.map((l) => JSON.parse(l) as { listening?: boolean; error?: string });
          expect(said.filter((s) => s.listening === true), JSON.stringify(said)).to.have.length(1);
          expect(said.filter((s) => s.error === 'EADDRINUSE'), JSON.stringify(said)).to.have.length(1);
          const c = await connect(`shm://${name}`);
          const back = nextFrame(c);
          c.send(Buffer.from('echo'));
          expect((await back).toString()).to.equal('echo');
          await c.close();
        } finally {
          for (const k of kids) {
            k.kill('SIGTERM');
            await exited(k);
          }
        }
        expect(devShm(`switchyard.${name}`), 'the winner removed its record on SIGTERM').to.deep.equal([]);
      }
    });
  });
});
