/**
 * fd-passing.test.ts: owns the tests of native/fd_passing.cc and the socket/lock helpers the
 * shm rendezvous uses from native/fd.cc: sendFd / receiveFd / connectReceiveFd (SCM_RIGHTS),
 * peerCred (SO_PEERCRED), fdSeals, listenUnix, lockExclusive. Real sockets, memfds and files;
 * flags are read back from /proc/self/fdinfo. Every fd opened here is closed.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, readlinkSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { native, type ReceivedFd } from '../../src/native.js';
import { fdOf } from '../../src/transports/core/socket-fd.js';
import { transportRejection as rejection, thrown } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';

const O_CLOEXEC = 0o2000000;

function fdFlags(fd: number): number {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  if (!m) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1]!, 8);
}

function receive(socket: number, timeoutMs: number): Promise<ReceivedFd> {
  return new Promise((resolve, reject) => native.receiveFd(socket, timeoutMs, (e, r) => (e ? reject(e) : resolve(r!))));
}

function dial(path: string, timeoutMs: number): Promise<ReceivedFd> {
  return new Promise((resolve, reject) => native.connectReceiveFd(path, timeoutMs, (e, r) => (e ? reject(e) : resolve(r!))));
}

describe('native fd passing', function () {
  const fds: number[] = [];
  const keep = (...more: number[]): void => void fds.push(...more);

  afterEach(function () {
    for (const fd of fds.splice(0)) {
      try {
        closeSync(fd);
      } catch {
        // closed by the test
      }
    }
  });

  it('sendFd / receiveFd: one byte carries a memfd; the copy is O_CLOEXEC and is the same memory', async function () {
    const [a, b] = native.socketpair();
    const seg = native.shmMemfd(8192);
    keep(a, b, seg);
    expect(native.sendFd(a, seg, 0x2a)).to.equal(true);
    const got = await receive(b, 2000);
    keep(got.fd);
    expect(got.socket).to.equal(b);
    expect(got.byte).to.equal(0x2a);
    expect(got.fd).to.be.at.least(0).and.not.equal(seg);
    expect(fdFlags(got.fd) & O_CLOEXEC).to.equal(O_CLOEXEC);
    expect(readlinkSync(`/proc/self/fd/${got.fd}`)).to.match(/^\/memfd:switchyard-shm/);
    writeSync(seg, Buffer.from('shared'), 0, 6, 100);
    const back = Buffer.alloc(6);
    readSync(got.fd, back, 0, 6, 100);
    expect(back.toString()).to.equal('shared');
  });

  it('receiveFd: a byte without an fd gives fd -1; the socket stays open and the caller\'s', async function () {
    const [a, b] = native.socketpair();
    keep(a, b);
    writeSync(a, Buffer.from([7]));
    const got = await receive(b, 2000);
    expect(got).to.deep.equal({ socket: b, byte: 7, fd: -1 });
    expect(existsSync(`/proc/self/fd/${b}`)).to.equal(true);
  });

  it('receiveFd: EOF is ECONNRESET, silence is ETIMEDOUT, and the JS thread keeps running meanwhile', async function () {
    const [a, b] = native.socketpair();
    keep(b);
    closeSync(a);
    expect((await rejection(receive(b, 2000))).code).to.equal('ECONNRESET');

    const [c, d] = native.socketpair();
    keep(c, d);
    let turns = 0;
    const tick = setInterval(() => turns++, 10);
    const err = await rejection(receive(d, 300));
    clearInterval(tick);
    expect(err.code).to.equal('ETIMEDOUT');
    expect(turns, 'timer turns while the pool thread waited').to.be.at.least(5);
    expect(existsSync(`/proc/self/fd/${d}`)).to.equal(true);
  });

  describe('listenUnix / connectReceiveFd', function () {
    let server: Server | undefined;
    const accepted: Socket[] = [];
    afterEach(async function () {
      for (const s of accepted.splice(0)) s.destroy();
      if (server) await new Promise((r) => server!.close(r));
      server = undefined;
    });

    it('an abstract name bound with its exact length: the client connects, gets the fd, and owns a connected socket', async function () {
      const name = `\0sy-fdpass-${randomBytes(6).toString('hex')}`;
      const seg = native.shmMemfd(4096);
      keep(seg);
      server = createServer((s) => {
        accepted.push(s);
        native.sendFd(fdOf(s), seg, 1);
        s.on('data', () => s.end());
      });
      const listening = native.listenUnix(name, 16);
      await new Promise<void>((r) => server!.listen({ fd: listening }, r));
      // the kernel shows abstract names with "@"; exact length means no trailing NULs
      expect(readFileSync('/proc/net/unix', 'utf8')).to.include(`@${name.slice(1)}\n`);
      const got = await dial(name, 2000);
      keep(got.socket, got.fd);
      expect(got.byte).to.equal(1);
      expect(fdFlags(got.socket) & O_CLOEXEC).to.equal(O_CLOEXEC);
      expect(fdFlags(got.fd) & O_CLOEXEC).to.equal(O_CLOEXEC);
      expect(native.peerCred(got.socket)).to.deep.equal({ pid: process.pid, uid: process.geteuid!(), gid: process.getegid!() });
    });

    it('connectReceiveFd: nobody on the name is ECONNREFUSED naming it with "@"', async function () {
      const name = `\0sy-fdpass-none-${randomBytes(6).toString('hex')}`;
      const err = await rejection(dial(name, 2000));
      expect(err.code).to.equal('ECONNREFUSED');
      expect(err.syscall).to.equal('connect');
      expect(err.address).to.equal(`@${name.slice(1)}`);
    });
  });

  it('peerCred on a socketpair: our own pid, euid and egid', function () {
    const [a, b] = native.socketpair();
    keep(a, b);
    expect(native.peerCred(a)).to.deep.equal({ pid: process.pid, uid: process.geteuid!(), gid: process.getegid!() });
  });

  it('fdSeals: a memfd from shmMemfd is sealed against shrink, grow and further seals (ftruncate is EPERM); a plain file has none', function () {
    const seg = native.shmMemfd(8192);
    keep(seg);
    const { seal, shrink, grow, write } = native.sealFlags;
    const s = native.fdSeals(seg);
    expect(s & (seal | shrink | grow)).to.equal(seal | shrink | grow);
    expect(s & write).to.equal(0);
    expect((thrown(() => ftruncateSync(seg, 0)) as NodeJS.ErrnoException).code).to.equal('EPERM');
    const path = join(makeTempDir(), 'plain');
    const f = openSync(path, 'w+');
    keep(f);
    unlinkSync(path);
    expect(native.fdSeals(f)).to.equal(0);
  });

  it('lockExclusive: a second open file of the same object is refused until the first is closed', function () {
    const path = join(makeTempDir(), 'lock');
    const first = openSync(path, 'w+');
    const second = openSync(path, 'r');
    keep(second);
    try {
      expect(native.lockExclusive(first)).to.equal(true);
      expect(native.lockExclusive(first), 'again on the holder').to.equal(true);
      expect(native.lockExclusive(second)).to.equal(false);
    } finally {
      closeSync(first);
      unlinkSync(path);
    }
    expect(native.lockExclusive(second)).to.equal(true);
  });
});
