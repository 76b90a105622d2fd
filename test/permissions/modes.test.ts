/**
 * modes.test.ts: every OS object a local transport creates is 0600 whatever the umask (these
 * cases run under umask 000, the worst a user could have), and the directories the library
 * makes for them are 0700: the unix socket, the fifo request FIFO and a client's .up/.down
 * pair, the shm://name record and the ring segments, the SysV message queue (msg_perm, read
 * both from /proc/sysvipc/msg and from ipcs -q), and the private directory spawn() links a
 * child through. Each case checks objects it made itself, by name, key or fd.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ActorSystem, connect, listen, type Listener } from '../../src/index.js';
import { native } from '../../src/native.js';
import { makeTempDir } from '../setup/tmp.js';

const WORKER = new URL('../fixtures/supervised-worker.js', import.meta.url);

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** Runs `fn` with the process umask at 000, restored afterwards. */
async function underUmask0<T>(fn: () => Promise<T>): Promise<T> {
  const old = process.umask(0);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

describe('permissions: modes of what the local transports create', function () {
  let dir: string;
  let listener: Listener | undefined;

  beforeEach(function () {
    dir = makeTempDir();
  });

  afterEach(async function () {
    await listener?.close();
    listener = undefined;
  });

  it('unix: the listening socket is 0600 under umask 000, and goes on close', async function () {
    const path = join(dir, 'app.sock');
    listener = await underUmask0(() => listen(`unix://${path}`, (link) => void link.close()));
    expect(lstatSync(path).isSocket(), 'a socket').to.equal(true);
    expect(modeOf(path).toString(8)).to.equal('600');
    await listener.close();
    listener = undefined;
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it("fifo: the request FIFO and a client's .up/.down FIFOs are 0600 under umask 000; a failed client removes its pair", async function () {
    const path = join(dir, 'svc');
    listener = await underUmask0(() => listen(`fifo://${path}`, (link) => void link.close()));
    expect(lstatSync(path).isFIFO(), 'a FIFO').to.equal(true);
    expect(modeOf(path).toString(8)).to.equal('600');
    await listener.close();
    listener = undefined;

    // A listener of our own that reads the announcement and never answers: the client's
    // pair stays in place until its handshake times out, long enough to look at it.
    const fake = join(dir, 'fake');
    native.mkfifo(fake, 0o600);
    const fd = openSync(fake, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const failed = underUmask0(() => connect(`fifo://${fake}`, { timeoutMs: 4000 })).then(
        (link) => {
          void link.close();
          throw new Error('a client without a listener linked');
        },
        (err: unknown) => err,
      );
      let line = '';
      const buf = Buffer.alloc(64);
      const deadline = Date.now() + 4000;
      while (!line.includes('\n') && Date.now() < deadline) {
        try {
          const n = readSync(fd, buf, 0, buf.length, null);
          line += buf.subarray(0, n).toString();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        }
        if (!line.includes('\n')) await sleep(5);
      }
      const announced = /^(\d+)\.([0-9a-f]+)\n/.exec(line);
      expect(announced, `the client's announcement, got ${JSON.stringify(line)}`).to.not.equal(null);
      for (const end of ['up', 'down']) {
        const p = `${fake}.${announced![1]}.${announced![2]}.${end}`;
        expect(lstatSync(p).isFIFO(), `${end} is a FIFO`).to.equal(true);
        expect(modeOf(p).toString(8), `${end} mode`).to.equal('600');
      }
      const err = (await failed) as { code?: string };
      expect(err.code, 'the handshake timed out').to.equal('ETIMEDOUT');
      expect(readdirSync(dir), 'the client removed its pair').to.deep.equal(['fake']);
    } finally {
      closeSync(fd);
      rmSync(fake, { force: true });
    }
  });

  it('shm: the shm://name record is 0600 under umask 000; ring segments are 0600 memfds with no name', async function () {
    const name = `perm-${process.pid}-${Date.now()}`;
    listener = await underUmask0(() => listen(`shm://${name}`, () => {}));
    const record = `/dev/shm/switchyard.${name}`;
    expect(modeOf(record).toString(8)).to.equal('600');
    const link = await connect(`shm://${name}`);
    try {
      // the link's rings are mappings of a memfd (nothing in /dev/shm but the record)...
      const maps = readFileSync('/proc/self/maps', 'utf8');
      expect(maps, 'a memfd mapping').to.include('/memfd:switchyard-shm');
      expect(readdirSync('/dev/shm').filter((n) => n.includes(name))).to.deep.equal([`switchyard.${name}`]);
      // ...made by shmMemfd, which must hand out 0600 whatever the umask (memfd_create makes 0777)
      const fd = native.shmMemfd(1 << 16);
      try {
        expect((fstatSync(fd).mode & 0o7777).toString(8), 'a new segment').to.equal('600');
      } finally {
        closeSync(fd);
      }
    } finally {
      await link.close();
    }
    await listener.close();
    listener = undefined;
    expect(readdirSync('/dev/shm').filter((n) => n.includes(name)), 'the record goes on close').to.deep.equal([]);
  });

  it('msgq: the queue is created with msg_perm mode 0600 under umask 000 (/proc/sysvipc/msg and ipcs -q)', async function () {
    listener = await underUmask0(() => listen('msgq://0', (link) => void link.close()));
    const key = Number(new URL(listener.address.href).host || listener.address.href.slice('msgq://'.length));
    const row = readFileSync('/proc/sysvipc/msg', 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .find((f) => Number(f[0]) === key);
    expect(row, `a queue with key ${key} in /proc/sysvipc/msg`).to.not.equal(undefined);
    expect(row![2], 'perms in /proc/sysvipc/msg').to.equal('600');
    const hexKey = `0x${(key >>> 0).toString(16).padStart(8, '0')}`;
    const ipcsRow = execFileSync('ipcs', ['-q'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith(hexKey));
    expect(ipcsRow, `ipcs -q lists ${hexKey}`).to.be.a('string');
    expect(ipcsRow!.trim().split(/\s+/)[3], 'perms in ipcs -q').to.equal('600');
    await listener.close();
    listener = undefined;
    expect(readFileSync('/proc/sysvipc/msg', 'utf8')).to.not.match(new RegExp(`^\\s*${key}\\s`, 'm'));
  });

  for (const transport of ['unix', 'fifo'] as const) {
    it(`spawn over ${transport}: the child is linked through a 0700 private directory holding a 0600 ${transport === 'unix' ? 'socket' : 'FIFO'}`, async function () {
      // TMPDIR is read at each mkdtemp: point it at our dir so the private directory is findable
      const oldTmp = process.env.TMPDIR;
      process.env.TMPDIR = dir;
      const system = await ActorSystem.start({ name: `perm-spawn-${process.pid}` });
      const seen: Array<{ dir: number; entries: Array<[string, number, boolean]> }> = [];
      let watching = true;
      const watch = (async () => {
        while (watching) {
          for (const d of readdirSync(dir).filter((n) => n.startsWith('switchyard-spawn-'))) {
            try {
              const p = join(dir, d);
              const entries = readdirSync(p).map((e): [string, number, boolean] => {
                const st = lstatSync(join(p, e));
                return [e, st.mode & 0o7777, transport === 'unix' ? st.isSocket() : st.isFIFO()];
              });
              if (entries.length) seen.push({ dir: modeOf(p), entries });
            } catch {
              // removed between readdir and lstat: the child linked
            }
          }
          await sleep(1);
        }
      })();
      try {
        // the child inherits umask 000 too: its own FIFOs (.up/.down) must be 0600 regardless
        const child = await underUmask0(() => system.spawn(WORKER, { transport, name: `perm-${transport}` }));
        expect(await child.ask('pid')).to.be.a('number');
      } finally {
        watching = false;
        await watch;
        await system.stop();
        process.env.TMPDIR = oldTmp;
      }
      expect(seen.length, 'the private directory was seen while the child started').to.be.greaterThan(0);
      for (const s of seen) {
        expect(s.dir.toString(8), 'private directory mode').to.equal('700');
        for (const [name, mode, kindOk] of s.entries) {
          expect(kindOk, `${name} is a ${transport === 'unix' ? 'socket' : 'FIFO'}`).to.equal(true);
          expect(mode.toString(8), `${name} mode`).to.equal('600');
        }
      }
      expect(readdirSync(dir).filter((n) => n.startsWith('switchyard-spawn-')), 'the private directory is removed once linked').to.deep.equal([]);
    });
  }
});
