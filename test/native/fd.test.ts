/**
 * fd.test.ts: owns the tests of the native fd helpers (native/fd.cc through src/native.ts):
 * pipe(), socketpair(), mkfifo(), setNonblock(), setCloexec(), and the TransportErrors they
 * throw. Flags are read back from the kernel through /proc/self/fdinfo, never from the addon.
 * Every fd opened here is closed, and every file made in the temp dir is removed.
 */
import { expect } from 'chai';
import * as fsSync from 'node:fs';
import { closeSync, existsSync, lstatSync, readSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../src/native.js';
import { TransportError } from '../../src/errors.js';
import { thrown } from '../setup/outcomes.js';
import { makeTempDir } from '../setup/tmp.js';

/** O_CLOEXEC as /proc/<pid>/fdinfo reports it (octal 02000000 on Linux). */
const O_CLOEXEC = 0o2000000;
/** O_NONBLOCK on Linux (octal 04000). */
const O_NONBLOCK = 0o4000;

/** The "flags:" field of /proc/self/fdinfo/<fd>: open flags, plus O_CLOEXEC if FD_CLOEXEC is set. */
function fdFlags(fd: number): number {
  const text = fsSync.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const m = /^flags:\s*([0-7]+)$/m.exec(text);
  if (!m) throw new Error(`no flags: line in /proc/self/fdinfo/${fd}:\n${text}`);
  return parseInt(m[1]!, 8);
}

function isOpen(fd: number): boolean {
  return existsSync(`/proc/self/fd/${fd}`);
}

function closeAll(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // already closed by the test itself
    }
  }
}

/** Writes `text` on `from` and reads exactly that many bytes back on `to`. */
function carry(from: number, to: number, text: string): string {
  const out = Buffer.from(text);
  expect(writeSync(from, out)).to.equal(out.length);
  const back = Buffer.alloc(out.length + 16);
  let got = 0;
  while (got < out.length) {
    const n = readSync(to, back, got, back.length - got, null);
    if (n === 0) break;
    got += n;
  }
  return back.subarray(0, got).toString();
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

describe('native fd helpers', function () {
  const fds: number[] = [];
  let dir: string;
  const made: string[] = [];

  before(function () {
    dir = makeTempDir();
  });

  afterEach(function () {
    closeAll(fds);
    for (const path of made.splice(0)) {
      try {
        unlinkSync(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  });

  describe('pipe()', function () {
    it('returns a read end and a write end that carry bytes', function () {
      const [r, w] = native.pipe();
      fds.push(r, w);
      expect(r).to.be.a('number');
      expect(w).to.be.a('number');
      expect(r).to.not.equal(w);
      expect(isOpen(r) && isOpen(w)).to.equal(true);
      expect(carry(w, r, 'through the pipe')).to.equal('through the pipe');
    });

    it('makes both ends FD_CLOEXEC', function () {
      const [r, w] = native.pipe();
      fds.push(r, w);
      expect(fdFlags(r) & O_CLOEXEC, `fd ${r} flags 0${fdFlags(r).toString(8)}`).to.equal(O_CLOEXEC);
      expect(fdFlags(w) & O_CLOEXEC, `fd ${w} flags 0${fdFlags(w).toString(8)}`).to.equal(O_CLOEXEC);
    });

    it('is one-way: the read end is O_RDONLY and the write end O_WRONLY', function () {
      const [r, w] = native.pipe();
      fds.push(r, w);
      expect(fdFlags(r) & 0o3).to.equal(0); // O_RDONLY
      expect(fdFlags(w) & 0o3).to.equal(1); // O_WRONLY
    });
  });

  describe('socketpair()', function () {
    it('returns two connected ends that carry bytes both ways', function () {
      const [a, b] = native.socketpair();
      fds.push(a, b);
      expect(a).to.not.equal(b);
      expect(carry(a, b, 'a to b')).to.equal('a to b');
      expect(carry(b, a, 'b to a, longer')).to.equal('b to a, longer');
    });

    it('makes both ends FD_CLOEXEC', function () {
      const [a, b] = native.socketpair();
      fds.push(a, b);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(O_CLOEXEC);
      expect(fdFlags(b) & O_CLOEXEC).to.equal(O_CLOEXEC);
    });

    it('makes sockets (fd links read socket:[inode])', function () {
      const [a, b] = native.socketpair();
      fds.push(a, b);
      expect(fsSync.readlinkSync(`/proc/self/fd/${a}`)).to.match(/^socket:\[\d+\]$/);
      expect(fsSync.readlinkSync(`/proc/self/fd/${b}`)).to.match(/^socket:\[\d+\]$/);
    });
  });

  describe('mkfifo()', function () {
    for (const umask of [0o077, 0o000]) {
      it(`creates a FIFO of mode exactly 0600 under umask 0${umask.toString(8).padStart(3, '0')}`, function () {
        const path = join(dir, `fifo-umask-${umask.toString(8)}`);
        const old = process.umask(umask);
        try {
          native.mkfifo(path, 0o600);
          made.push(path);
        } finally {
          process.umask(old);
        }
        expect(lstatSync(path).isFIFO()).to.equal(true);
        expect(modeOf(path).toString(8)).to.equal('600');
      });
    }

    it('applies the mode exactly even when the umask would narrow it (0660 under umask 077)', function () {
      const path = join(dir, 'fifo-0660');
      const old = process.umask(0o077);
      try {
        native.mkfifo(path, 0o660);
        made.push(path);
      } finally {
        process.umask(old);
      }
      expect(modeOf(path).toString(8)).to.equal('660');
    });

    it('throws TransportError EEXIST (errno 17, syscall mkfifo, path in address and message) on an existing path', function () {
      const path = join(dir, 'already-there');
      writeFileSync(path, 'keep me');
      made.push(path);
      const err = thrown(() => native.mkfifo(path, 0o600));
      expect(err).to.be.instanceOf(TransportError);
      const te = err as TransportError;
      expect(te.code).to.equal('EEXIST');
      expect(te.errno).to.equal(17);
      expect(te.syscall).to.equal('mkfifo');
      expect(te.address).to.equal(path);
      expect(te.message).to.contain(path);
      // The existing file is untouched.
      expect(lstatSync(path).isFile()).to.equal(true);
      expect(fsSync.readFileSync(path, 'utf8')).to.equal('keep me');
    });

    it('throws TransportError EEXIST when the path is already a FIFO', function () {
      const path = join(dir, 'fifo-twice');
      native.mkfifo(path, 0o600);
      made.push(path);
      const err = thrown(() => native.mkfifo(path, 0o600));
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).code).to.equal('EEXIST');
    });

    it('throws TransportError ENOENT in a missing directory', function () {
      const path = join(dir, 'no-such-dir', 'fifo');
      const err = thrown(() => native.mkfifo(path, 0o600));
      expect(err).to.be.instanceOf(TransportError);
      const te = err as TransportError;
      expect(te.code).to.equal('ENOENT');
      expect(te.errno).to.equal(2);
      expect(te.syscall).to.equal('mkfifo');
      expect(te.address).to.equal(path);
      expect(existsSync(join(dir, 'no-such-dir'))).to.equal(false);
    });
  });

  describe('setNonblock() / setCloexec()', function () {
    it('setNonblock sets and clears O_NONBLOCK', function () {
      const [r, w] = native.pipe();
      fds.push(r, w);
      expect(fdFlags(r) & O_NONBLOCK).to.equal(0);
      native.setNonblock(r, true);
      expect(fdFlags(r) & O_NONBLOCK).to.equal(O_NONBLOCK);
      // Idempotent, and it leaves the other end alone.
      native.setNonblock(r, true);
      expect(fdFlags(r) & O_NONBLOCK).to.equal(O_NONBLOCK);
      expect(fdFlags(w) & O_NONBLOCK).to.equal(0);
      // A non-blocking read of an empty pipe is EAGAIN, not a hang.
      const err = thrown(() => readSync(r, Buffer.alloc(1), 0, 1, null)) as NodeJS.ErrnoException;
      expect(err.code).to.equal('EAGAIN');
      native.setNonblock(r, false);
      expect(fdFlags(r) & O_NONBLOCK).to.equal(0);
      // It keeps FD_CLOEXEC (a different flag word).
      expect(fdFlags(r) & O_CLOEXEC).to.equal(O_CLOEXEC);
    });

    it('setCloexec clears and sets FD_CLOEXEC', function () {
      const [a, b] = native.socketpair();
      fds.push(a, b);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(O_CLOEXEC);
      native.setCloexec(a, false);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(0);
      expect(fdFlags(b) & O_CLOEXEC).to.equal(O_CLOEXEC);
      native.setCloexec(a, false);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(0);
      native.setCloexec(a, true);
      expect(fdFlags(a) & O_CLOEXEC).to.equal(O_CLOEXEC);
      // It does not touch O_NONBLOCK.
      expect(fdFlags(a) & O_NONBLOCK).to.equal(0);
    });

    for (const name of ['setNonblock', 'setCloexec'] as const) {
      for (const on of [true, false]) {
        it(`${name}(closedFd, ${on}) throws TransportError EBADF`, function () {
          const [r, w] = native.pipe();
          closeSync(r);
          closeSync(w);
          expect(isOpen(r), `fd ${r} was closed`).to.equal(false);
          const err = thrown(() => native[name](r, on));
          expect(err).to.be.instanceOf(TransportError);
          const te = err as TransportError;
          expect(te.code).to.equal('EBADF');
          expect(te.errno).to.equal(9);
          expect(te.syscall).to.equal('fcntl');
        });
      }
    }
  });
});
