/**
 * addressed.test.ts: owns the tests of what is particular to the addressed transports (unix,
 * fifo, tcp) beyond the conformance suite: the names they create (modes, removal on close),
 * refusing a live or foreign name (EADDRINUSE, EEXIST), reclaiming names left by a process
 * killed with SIGKILL, the FIFO client sweep, and removal of names when a process dies of
 * SIGINT/SIGTERM/SIGHUP or exits normally. Other processes are real children running
 * test/fixtures/holder.ts.
 *
 * Owns: every listener, link and child a test starts (closed/killed and reaped in afterEach)
 * and every file a test makes itself in its temp directory (removed in afterEach).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { native } from '../../src/native.js';
import { makeTempDir } from '../setup/tmp.js';
import { nextFrame } from './harness.js';
import { withTimeout } from '../setup/timing.js';
import { expectRejects } from '../setup/expect-rejects.js';

const HOLDER = fileURLToPath(new URL('../fixtures/holder.js', import.meta.url));

// ---------------------------------------------------------------------------------------------
// resources: everything a test opens is recorded here and released in afterEach

const listeners: Listener[] = [];
const links: Link[] = [];
const children: ChildProcess[] = [];
const files: string[] = [];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}


async function releaseAll(): Promise<void> {
  for (const link of links.splice(0)) await link.close();
  for (const l of listeners.splice(0)) await l.close();
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exitOf(child);
  }
  for (const path of files.splice(0)) {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** A listener whose every accepted link echoes its frames; accepted links are queued for `next()`. */
async function echoListen(address: string): Promise<{ listener: Listener; next(ms?: number): Promise<Link> }> {
  const queue: Link[] = [];
  let waiter: ((link: Link) => void) | undefined;
  const listener = await listen(address, (link) => {
    links.push(link);
    link.onFrame((frame) => link.send(Buffer.from(frame)));
    if (waiter) {
      const w = waiter;
      waiter = undefined;
      w(link);
    } else queue.push(link);
  });
  listeners.push(listener);
  return {
    listener,
    next(ms = 10_000) {
      const queued = queue.shift();
      if (queued) return Promise.resolve(queued);
      return withTimeout(new Promise<Link>((resolve) => (waiter = resolve)), ms, `accept on ${address}`);
    },
  };
}

async function connectTracked(address: string, options?: { timeoutMs?: number }): Promise<Link> {
  const link = await connect(address, options);
  links.push(link);
  return link;
}

/** Sends `text` on `link` and expects it back (the other end echoes). */
async function roundTrip(link: Link, text: string): Promise<void> {
  const back = nextFrame(link);
  link.send(Buffer.from(text));
  expect((await back).toString()).to.equal(text);
}


/** Spawns holder.js on `addresses` and resolves once it printed "listening". */
async function spawnHolder(...addresses: string[]): Promise<ChildProcess> {
  return spawnHolderWith({}, ...addresses);
}

async function spawnHolderWith(env: NodeJS.ProcessEnv, ...addresses: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, ...addresses], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.push(child);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      let out = '';
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
        reject(new Error(`holder exited (code ${code}, signal ${signal}) before listening; stdout: ${JSON.stringify(out)}`));
      child.once('exit', onExit);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('listening\n')) {
          child.removeListener('exit', onExit);
          resolve();
        }
      });
    }),
    10_000,
    `holder on ${addresses.join(' ')} listening`,
  );
  child.stdout!.resume();
  return child;
}

/** SIGKILLs `child` and waits until it is reaped. */
async function killHard(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  const { signal } = await withTimeout(exitOf(child), 10_000, 'SIGKILLed holder exits');
  expect(signal).to.equal('SIGKILL');
}

/** The pid of a process that has exited and been reaped (so the pid names nobody). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  const pid = child.pid!;
  await exitOf(child);
  expect(() => process.kill(pid, 0)).to.throw().with.property('code', 'ESRCH');
  return pid;
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o7777;
}

/** Runs `fn` under `mask`, restoring the previous umask after. */
async function underUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

function clientFifos(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.up') || n.endsWith('.down'));
}

// ---------------------------------------------------------------------------------------------

describe('addressed transports', function () {
  let dir: string;

  beforeEach(function () {
    dir = makeTempDir();
  });

  afterEach(async function () {
    await releaseAll();
  });

  describe('unix', function () {
    it('creates the socket file with mode 0600, even under umask 0', async function () {
      const path = join(dir, 's.sock');
      await underUmask(0, () => echoListen(`unix://${path}`));
      const st = lstatSync(path);
      expect(st.isSocket()).to.equal(true);
      expect(modeOf(path).toString(8)).to.equal('600');
    });

    it('listener.close() removes the socket file', async function () {
      const path = join(dir, 's.sock');
      const { listener } = await echoListen(`unix://${path}`);
      expect(existsSync(path)).to.equal(true);
      await listener.close();
      expect(existsSync(path)).to.equal(false);
    });

    it('a second listen on a live path rejects with EADDRINUSE, and the first listener still works', async function () {
      const path = join(dir, 's.sock');
      await echoListen(`unix://${path}`);
      const err = await expectRejects(listen(`unix://${path}`, () => {}), 'EADDRINUSE');
      expect(err.address).to.contain(path);
      expect(lstatSync(path).isSocket()).to.equal(true);
      const link = await connectTracked(`unix://${path}`);
      await roundTrip(link, 'still here');
    });

    it('listen in a directory that does not exist rejects with ENOENT naming the address it was given', async function () {
      const address = `unix://${join(dir, 'missing', 's.sock')}`;
      const err = await expectRejects(listen(address, () => {}), 'ENOENT');
      expect(err.address).to.equal(address);
      expect(err.message).to.contain(address);
    });

    it('a regular file at the path rejects with EEXIST and is left untouched', async function () {
      const path = join(dir, 'not-a-socket');
      writeFileSync(path, 'precious');
      files.push(path);
      const before = statSync(path);
      await expectRejects(listen(`unix://${path}`, () => {}), 'EEXIST');
      const after = statSync(path);
      expect(after.isFile()).to.equal(true);
      expect(after.ino).to.equal(before.ino);
      expect(after.mtimeMs).to.equal(before.mtimeMs);
      expect(readFileSync(path, 'utf8')).to.equal('precious');
    });

    it('replaces a stale socket file left by a process killed with SIGKILL, and accepts on it', async function () {
      const path = join(dir, 's.sock');
      const holder = await spawnHolder(`unix://${path}`);
      await killHard(holder);
      expect(lstatSync(path).isSocket(), 'SIGKILL leaves the socket file behind').to.equal(true);
      await expectRejects(connect(`unix://${path}`), 'ECONNREFUSED');
      const { next } = await echoListen(`unix://${path}`);
      const link = await connectTracked(`unix://${path}`);
      await next();
      await roundTrip(link, 'after the crash');
    });
  });

  describe('fifo', function () {
    it('creates the request FIFO with mode 0600, even under umask 0', async function () {
      const path = join(dir, 'requests');
      await underUmask(0, () => echoListen(`fifo://${path}`));
      expect(lstatSync(path).isFIFO()).to.equal(true);
      expect(modeOf(path).toString(8)).to.equal('600');
    });

    it('listener.close() removes the request FIFO', async function () {
      const path = join(dir, 'requests');
      const { listener } = await echoListen(`fifo://${path}`);
      await listener.close();
      expect(existsSync(path)).to.equal(false);
    });

    it('a second listen on a live path rejects with EADDRINUSE, and the first listener still works', async function () {
      const path = join(dir, 'requests');
      await echoListen(`fifo://${path}`);
      await expectRejects(listen(`fifo://${path}`, () => {}), 'EADDRINUSE');
      expect(lstatSync(path).isFIFO()).to.equal(true);
      const link = await connectTracked(`fifo://${path}`);
      await roundTrip(link, 'still here');
    });

    it('a regular file at the path rejects with EEXIST and is left untouched', async function () {
      const path = join(dir, 'not-a-fifo');
      writeFileSync(path, 'precious');
      files.push(path);
      const before = statSync(path);
      await expectRejects(listen(`fifo://${path}`, () => {}), 'EEXIST');
      const after = statSync(path);
      expect(after.isFile()).to.equal(true);
      expect(after.ino).to.equal(before.ino);
      expect(readFileSync(path, 'utf8')).to.equal('precious');
      expect(clientFifos(dir)).to.deep.equal([]);
    });

    it('a new listen replaces the request FIFO of a listener killed with SIGKILL, and accepts a link', async function () {
      const path = join(dir, 'requests');
      const holder = await spawnHolder(`fifo://${path}`);
      await killHard(holder);
      expect(lstatSync(path).isFIFO(), 'SIGKILL leaves the request FIFO behind').to.equal(true);
      const { next } = await echoListen(`fifo://${path}`);
      const link = await connectTracked(`fifo://${path}`);
      await next();
      await roundTrip(link, 'after the crash');
      expect(clientFifos(dir)).to.deep.equal([]);
    });

    it('sweeps client FIFOs of dead pids on listen and leaves those of live pids alone', async function () {
      const path = join(dir, 'requests');
      const dead = await deadPid();
      const stale = `${path}.${dead}.0123456789abcdef.up`;
      const staleDown = `${path}.${dead}.0123456789abcdef.down`;
      const live = `${path}.${process.pid}.0123456789abcdef.up`;
      for (const p of [stale, staleDown, live]) {
        native.mkfifo(p, 0o600);
        files.push(p);
      }
      await echoListen(`fifo://${path}`);
      expect(existsSync(stale), `${stale} (pid ${dead} is dead)`).to.equal(false);
      expect(existsSync(staleDown), `${staleDown} (pid ${dead} is dead)`).to.equal(false);
      expect(existsSync(live), `${live} (pid ${process.pid} is alive)`).to.equal(true);
      expect(lstatSync(live).isFIFO()).to.equal(true);
    });

    it('connect to a stale request FIFO rejects with ECONNREFUSED within ~1 s and leaves no client FIFOs', async function () {
      const path = join(dir, 'requests');
      const holder = await spawnHolder(`fifo://${path}`);
      await killHard(holder);
      files.push(path); // the stale FIFO is ours to remove now
      expect(lstatSync(path).isFIFO()).to.equal(true);
      const t0 = Date.now();
      const err = await expectRejects(connect(`fifo://${path}`, { timeoutMs: 300 }), 'ECONNREFUSED');
      const elapsed = Date.now() - t0;
      expect(elapsed, 'waited about timeoutMs').to.be.at.least(250);
      expect(elapsed, 'gave up within ~1 s').to.be.below(1000);
      expect(err.message).to.contain(path);
      expect(clientFifos(dir)).to.deep.equal([]);
    });
  });

  describe('tcp', function () {
    it('listen on tcp://127.0.0.1:0 reports the real port, and connect to it works', async function () {
      const { listener, next } = await echoListen('tcp://127.0.0.1:0');
      expect(listener.address.protocol).to.equal('tcp:');
      expect(listener.address.hostname).to.equal('127.0.0.1');
      const port = Number(listener.address.port);
      expect(port).to.be.above(0);
      const link = await connectTracked(listener.address.href);
      await next();
      await roundTrip(link, 'over tcp');
    });

    it('listen on tcp://localhost:0 works (tcp://:0 is not a URL)', async function () {
      const { listener, next } = await echoListen('tcp://localhost:0');
      expect(Number(listener.address.port)).to.be.above(0);
      const link = await connectTracked(listener.address.href);
      await next();
      await roundTrip(link, 'via localhost');
    });

    it('a second listen on the same real port rejects with EADDRINUSE', async function () {
      const { listener } = await echoListen('tcp://127.0.0.1:0');
      const href = `tcp://127.0.0.1:${listener.address.port}`;
      await expectRejects(listen(href, () => {}), 'EADDRINUSE');
      const link = await connectTracked(href);
      await roundTrip(link, 'first still serves');
    });

    it('the accepted and the connected link exchange frames both ways', async function () {
      const accepted: Link[] = [];
      let onAccept: ((l: Link) => void) | undefined;
      const listener = await listen('tcp://127.0.0.1:0', (l) => {
        links.push(l);
        accepted.push(l);
        onAccept?.(l);
      });
      listeners.push(listener);
      const gotServer = accepted.length ? Promise.resolve(accepted[0]!) : new Promise<Link>((r) => (onAccept = r));
      const client = await connectTracked(listener.address.href);
      const server = await withTimeout(gotServer, 10_000, 'accept');
      expect(server.scheme).to.equal('tcp');
      expect(client.scheme).to.equal('tcp');

      const atServer = nextFrame(server);
      client.send(Buffer.from('ping'));
      expect((await atServer).toString()).to.equal('ping');
      const atClient = nextFrame(client);
      server.send(Buffer.from('pong'));
      expect((await atClient).toString()).to.equal('pong');

      // Several frames in one tick arrive whole and in order.
      const got: string[] = [];
      const all = new Promise<void>((resolve) =>
        server.onFrame((f) => {
          got.push(Buffer.from(f).toString());
          if (got.length === 3) resolve();
        }),
      );
      for (const s of ['a', '', 'ccc']) client.send(Buffer.from(s));
      await withTimeout(all, 10_000, 'three frames');
      expect(got).to.deep.equal(['a', '', 'ccc']);

      await client.close();
      const reason = await withTimeout(server.closed, 10_000, 'server side sees the close');
      expect(reason.kind).to.equal('peer-gone');
    });
  });

  describe('cleanup when the process ends', function () {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
      it(`a holder of unix and fifo listeners that gets ${signal} dies of it and removes its names`, async function () {
        const sock = join(dir, 's.sock');
        const fifo = join(dir, 'requests');
        const holder = await spawnHolder(`unix://${sock}`, `fifo://${fifo}`);
        expect(lstatSync(sock).isSocket()).to.equal(true);
        expect(lstatSync(fifo).isFIFO()).to.equal(true);
        // The holder really serves both before it is signalled.
        await roundTrip(await connectTracked(`unix://${sock}`), 'unix');
        await roundTrip(await connectTracked(`fifo://${fifo}`), 'fifo');
        for (const l of links.splice(0)) await l.close();

        holder.kill(signal);
        const exit = await withTimeout(exitOf(holder), 10_000, `holder exits on ${signal}`);
        expect(exit.signal, `exit ${JSON.stringify(exit)}`).to.equal(signal);
        expect(existsSync(sock), 'socket file').to.equal(false);
        expect(existsSync(fifo), 'request FIFO').to.equal(false);
        expect(readdirSync(dir)).to.deep.equal([]);
      });
    }

    it("an application's own once('SIGTERM') handler, registered first, keeps the process alive; names go at its exit", async function () {
      const sock = join(dir, 's.sock');
      const holder = await spawnHolderWith({ HOLDER_ONCE: 'SIGTERM' }, `unix://${sock}`);
      let out = '';
      holder.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
      holder.kill('SIGTERM');
      const end = Date.now() + 5000;
      while (!out.includes('handled SIGTERM') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(out).to.include('handled SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect(holder.exitCode, 'still running after its handler').to.equal(null);
      expect(holder.signalCode).to.equal(null);
      expect(lstatSync(sock).isSocket(), 'the name is kept while the app runs').to.equal(true);
      holder.stdin!.write('exit\n');
      const exit = await withTimeout(exitOf(holder), 10_000, 'holder exits on "exit"');
      expect(exit).to.deep.equal({ code: 0, signal: null });
      expect(existsSync(sock), 'socket file').to.equal(false);
    });

    it('a holder that calls process.exit(0) without closing its listeners removes its names', async function () {
      const sock = join(dir, 's.sock');
      const fifo = join(dir, 'requests');
      const holder = await spawnHolder(`unix://${sock}`, `fifo://${fifo}`);
      expect(lstatSync(sock).isSocket()).to.equal(true);
      expect(lstatSync(fifo).isFIFO()).to.equal(true);
      holder.stdin!.write('exit\n');
      const exit = await withTimeout(exitOf(holder), 10_000, 'holder exits on "exit"');
      expect(exit).to.deep.equal({ code: 0, signal: null });
      expect(existsSync(sock), 'socket file').to.equal(false);
      expect(existsSync(fifo), 'request FIFO').to.equal(false);
      expect(readdirSync(dir)).to.deep.equal([]);
    });
  });
});
