/**
 * shm.test.ts: what the conformance suite cannot say about `shm:`: named rendezvous between
 * unrelated processes, what is (and is not) left in /dev/shm after close and after SIGKILL of
 * either side, small rings (wrap padding and fragments), options, and the lifetime of frames.
 * Real processes and real segments throughout.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, listen, pair, spawnWithLink, TransportError, type Link, type Listener } from '../../src/index.js';
import { prng, randInt, randomBytes } from '../setup/random.js';
import { withTimeout } from '../setup/timing.js';
import { nextFrame, PEER } from './harness.js';

const PARENT = fileURLToPath(new URL('../fixtures/shm-parent.js', import.meta.url));
const HOLDER = fileURLToPath(new URL('../fixtures/holder.js', import.meta.url));

/**
 * Our entries in /dev/shm. Names this project's tests make embed their maker's pid
 * (`sytest-PID-…` here, `switchyard-TAG-PID-…` from private-address.ts): those of another
 * run going on at the same time are not ours to judge, and made these checks fail at random.
 */
function devShm(prefix = 'switchyard'): string[] {
  return readdirSync('/dev/shm')
    .filter((e) => e.startsWith(prefix) && !anotherRun(e))
    .sort();
}

function anotherRun(entry: string): boolean {
  const pid = /-(\d+)-/.exec(entry)?.[1];
  return pid !== undefined && Number(pid) !== process.pid;
}

function uniqueName(): string {
  return `sytest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

/** true once `pid` has exited (a zombie waiting for a reaper counts as exited). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function firstLine(child: ChildProcess): Promise<Record<string, unknown>> {
  const rl = createInterface({ input: child.stdout! });
  const line = await withTimeout(new Promise<string>((resolve) => rl.once('line', resolve)), 10_000, 'the fixture to start');
  rl.close();
  return JSON.parse(line) as Record<string, unknown>;
}

async function echo(link: Link, text: string): Promise<string> {
  const back = nextFrame(link);
  link.send(Buffer.from(text));
  return (await back).toString();
}

describe('shm transport', function () {
  const children = new Set<ChildProcess>();
  const listeners: Listener[] = [];
  let before: string[];

  beforeEach(function () {
    before = devShm();
  });

  afterEach(async function () {
    for (const l of listeners.splice(0)) await l.close();
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    children.clear();
  });

  function spawnPeer(address: string, mode = 'echo'): ChildProcess {
    const c = spawn(process.execPath, [PEER, address, mode], { stdio: 'inherit' });
    children.add(c);
    return c;
  }

  it('named: each client of one listener gets its own segment; only the 0600 record stays in /dev/shm', async function () {
    const name = uniqueName();
    const accepted: Array<{ link: Link; frames: string[] }> = [];
    const l = await listen(`shm://${name}`, (link) => {
      const entry = { link, frames: [] as string[] };
      accepted.push(entry);
      link.onFrame((f) => entry.frames.push(Buffer.from(f).toString()));
    });
    listeners.push(l);
    expect(l.address.href).to.equal(`shm://${name}`);
    expect(devShm(`switchyard.${name}`)).to.deep.equal([`switchyard.${name}`]);
    expect(statSync(`/dev/shm/switchyard.${name}`).mode & 0o777).to.equal(0o600);

    // Two other processes connect (each says "ready"), and this one (says "local").
    const peers = [spawnPeer(`shm://${name}`), spawnPeer(`shm://${name}`)];
    const local = await connect(`shm://${name}`);
    local.onFrame((f) => local.send(Buffer.from(f)));
    local.send(Buffer.from('local'));
    await withTimeout((async () => {
      while (accepted.length < 3 || accepted.some((a) => a.frames.length === 0)) await new Promise((r) => setTimeout(r, 10));
    })(), 10_000, 'three links with a first frame each');
    expect(accepted.map((a) => a.frames[0]).sort()).to.deep.equal(['local', 'ready', 'ready']);
    // Link segments never have a name (shm-rendezvous.test.ts watches for one).
    expect(devShm(`switchyard.${name}`)).to.deep.equal([`switchyard.${name}`]);
    // Each link's echo comes back on that link only.
    accepted.forEach((a, i) => a.link.send(Buffer.from(`to ${i}`)));
    await withTimeout((async () => {
      while (accepted.some((a) => a.frames.length < 2)) await new Promise((r) => setTimeout(r, 10));
    })(), 10_000, 'the echoes');
    expect(accepted.map((a) => a.frames.slice(1))).to.deep.equal(accepted.map((_, i) => [`to ${i}`]));

    await local.close();
    for (const a of accepted) await a.link.close();
    await Promise.all(peers.map(exited));
    await l.close();
    expect(devShm()).to.deep.equal(before);
  });

  it('named: a client SIGKILLed is peer-gone within 1 s, and leaves nothing in /dev/shm', async function () {
    const name = uniqueName();
    const accepted = new Promise<Link>((resolve) => {
      void listen(`shm://${name}`, resolve).then((l) => listeners.push(l));
    });
    const child = spawnPeer(`shm://${name}`);
    const link = await withTimeout(accepted, 10_000, 'the peer to connect');
    expect((await nextFrame(link)).toString()).to.equal('ready');
    const t0 = performance.now();
    child.kill('SIGKILL');
    const reason = await withTimeout(link.closed, 1_000, 'peer-gone after SIGKILL');
    expect(reason.kind).to.equal('peer-gone');
    expect(performance.now() - t0).to.be.below(1_000);
    await exited(child);
    await listeners.pop()!.close();
    expect(devShm()).to.deep.equal(before);
  });

  it('named: a listener SIGKILLed: its client sees peer-gone, the stale name refuses connects and is reclaimed by the next listen', async function () {
    const name = uniqueName();
    const holder = spawn(process.execPath, [PARENT, 'listen', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(holder);
    expect(await firstLine(holder)).to.deep.equal({ listening: true });
    const link = await connect(`shm://${name}`);
    expect(await echo(link, 'before')).to.equal('before');

    const t0 = performance.now();
    holder.kill('SIGKILL');
    const reason = await withTimeout(link.closed, 1_000, 'peer-gone after the listener was killed');
    expect(reason.kind).to.equal('peer-gone');
    expect(performance.now() - t0).to.be.below(1_000);
    await exited(holder);

    // SIGKILL runs no cleanup: the record is left, but nobody answers behind it.
    expect(devShm(`switchyard.${name}`)).to.deep.equal([`switchyard.${name}`]);
    let error: unknown;
    try {
      await connect(`shm://${name}`, { timeoutMs: 1000 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('ECONNREFUSED');

    const l = await listen(`shm://${name}`, (a) => a.onFrame((f) => a.send(Buffer.from(f))));
    listeners.push(l);
    const again = await connect(`shm://${name}`);
    expect(await echo(again, 'after')).to.equal('after');
    await again.close();
    await listeners.pop()!.close();
    expect(devShm()).to.deep.equal(before);
  });

  it('named: a second listen on a live name rejects with EADDRINUSE, and the first still works', async function () {
    const name = uniqueName();
    const l = await listen(`shm://${name}`, (a) => a.onFrame((f) => a.send(Buffer.from(f))));
    listeners.push(l);
    let error: unknown;
    try {
      listeners.push(await listen(`shm://${name}`, () => {}));
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(TransportError);
    expect((error as TransportError).code).to.equal('EADDRINUSE');
    const c = await connect(`shm://${name}`);
    expect(await echo(c, 'still')).to.equal('still');
    await c.close();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`named: a listening process that gets ${signal} dies of it and removes its record`, async function () {
      const name = uniqueName();
      const holder = spawn(process.execPath, [HOLDER, `shm://${name}`], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.add(holder);
      const rl = createInterface({ input: holder.stdout! });
      await withTimeout(new Promise((resolve) => rl.once('line', resolve)), 10_000, 'the holder to listen');
      rl.close();
      expect(devShm(`switchyard.${name}`)).to.deep.equal([`switchyard.${name}`]);
      const died = new Promise<NodeJS.Signals | null>((resolve) => holder.once('exit', (_code, sig) => resolve(sig)));
      holder.kill(signal);
      expect(await withTimeout(died, 10_000, 'the holder to die')).to.equal(signal);
      expect(devShm()).to.deep.equal(before);
    });
  }

  it('pair: the parent SIGKILLed: the child sees peer-gone within 1 s; nothing lands in /dev/shm', async function () {
    const middle = spawn(process.execPath, [PARENT, 'pair'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(middle);
    const { child } = (await firstLine(middle)) as { child: number };
    expect(child).to.be.a('number');
    expect(gone(child)).to.equal(false);
    expect(devShm()).to.deep.equal(before);
    const t0 = performance.now();
    middle.kill('SIGKILL');
    await exited(middle);
    // The echo child exits as soon as its link closes (fixtures/peer.ts).
    while (!gone(child) && performance.now() - t0 < 2_000) await new Promise((r) => setTimeout(r, 5));
    expect(gone(child), 'the orphaned child has exited').to.equal(true);
    expect(performance.now() - t0).to.be.below(1_000);
    expect(devShm()).to.deep.equal(before);
  });

  it('carries frames of random sizes through a 64 KiB ring: wrap padding and fragments, in order, byte-exact', async function () {
    const { link, child } = await spawnWithLink('shm', PEER, { args: ['inherit', 'echo'], ringSize: 64 * 1024 });
    children.add(child);
    expect((await nextFrame(link)).toString()).to.equal('ready');
    const rand = prng(0x5eed);
    const frames = Array.from({ length: 600 }, (_, i) => {
      const size = i % 10 === 0 ? randInt(rand, 32 * 1024, 200 * 1024) : randInt(rand, 0, 3000);
      return randomBytes(rand, size);
    });
    let next = 0;
    let bad: string | undefined;
    const done = new Promise<void>((resolve) =>
      link.onFrame((f) => {
        if (bad === undefined && !Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(frames[next]!)) bad = `frame ${next} (${frames[next]!.length} B) came back as ${f.byteLength} B of other bytes`;
        if (++next === frames.length) resolve();
      }),
    );
    for (const f of frames) if (!link.send(f)) await link.drain();
    await withTimeout(done, 20_000, 'all echoes');
    expect(bad).to.equal(undefined);
    await link.close();
  });

  it('rejects bad ring sizes, spins and names with a TransportError', async function () {
    // 2^31 ms does not fit a timer (Node would fire it after 1 ms): refused, not misread
    for (const options of [{ ringSize: 1000 }, { ringSize: 32 * 1024 }, { ringSize: 2 ** 31 }, { spinUs: -1 }, { timeoutMs: 2 ** 31 }, { lingerMs: 2 ** 31 }]) {
      let error: unknown;
      try {
        const p = await pair('shm', options as Parameters<typeof pair>[1]);
        p.child.release();
        await p.link.close();
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(options)).to.be.instanceOf(TransportError);
      expect((error as TransportError).code).to.equal('ERR_INVALID_OPTION');
    }
    for (const address of ['shm://x?size=lots', 'shm://x?spin=fast', 'shm://a.b', 'shm://x/y']) {
      let error: unknown;
      try {
        await listen(address, () => {});
      } catch (err) {
        error = err;
      }
      expect(error, address).to.be.instanceOf(TransportError);
      expect((error as TransportError).message).to.include(address.split('?')[0]!.slice(6));
    }
  });

  it('a frame kept past its callback reads as empty after close, never as freed memory', async function () {
    const { link, child } = await spawnWithLink('shm', PEER, { args: ['inherit', 'echo'] });
    children.add(child);
    const kept = await new Promise<Uint8Array>((resolve) => link.onFrame(resolve));
    expect(Buffer.from(kept).toString()).to.equal('ready');
    await link.close();
    expect(kept.byteLength).to.equal(0);
    expect(kept[0]).to.equal(undefined);
  });

  it('works in spin mode (shm://name?spin=200us) and in blocking mode (spin=0)', async function () {
    for (const spin of ['200us', '0']) {
      const name = uniqueName();
      const l = await listen(`shm://${name}?spin=${spin}`, (a) => a.onFrame((f) => a.send(Buffer.from(f))));
      listeners.push(l);
      const c = await connect(`shm://${name}?spin=${spin}`);
      for (let i = 0; i < 200; i++) expect(await echo(c, `ping ${i}`)).to.equal(`ping ${i}`);
      await c.close();
      await listeners.pop()!.close();
    }
    expect(devShm()).to.deep.equal(before);
  });
});
