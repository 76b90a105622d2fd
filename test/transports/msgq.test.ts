/**
 * msgq.test.ts: what the conformance suite cannot see of `msgq://KEY`: the system limits it
 * follows, reclaiming a queue after a crash (and never touching a foreign one), cleanup at
 * exit and on SIGTERM, the survivor's cleanup after a SIGKILL of either side, and that one
 * paused link does not stall the others on the shared queue.
 * Every test uses its own random key; every queue it makes is removed or checked gone.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { native } from '../../src/native.js';
import { msgqLimits } from '../../src/transports/datagram/msgq.js';
import { withTimeout } from '../setup/timing.js';
import { expectRejects } from '../setup/expect-rejects.js';

const HOLDER = fileURLToPath(new URL('../fixtures/holder.js', import.meta.url));
const children: ChildProcess[] = [];

function freshKey(): number {
  return randomInt(0x2000_0000, 0x7000_0000);
}

/** The msqid of the queue with `key`, or null (from /proc/sysvipc/msg: key is the first column, decimal). */
function queueWithKey(key: number): number | null {
  for (const line of readFileSync('/proc/sysvipc/msg', 'utf8').trim().split('\n').slice(1)) {
    const [k, id] = line.trim().split(/\s+/);
    if (Number(k) === key) return Number(id);
  }
  return null;
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

async function spawnHolder(address: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, address], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      let out = '';
      child.once('exit', (code, signal) => reject(new Error(`holder exited (${code}, ${signal}) before listening`)));
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('listening\n')) resolve();
      });
    }),
    10_000,
    `holder on ${address}`,
  );
  return child;
}


function echo(link: Link): void {
  link.onFrame((f) => link.send(Buffer.from(f)));
}

describe('msgq transport', function () {
  afterEach(async function () {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exitOf(c);
    }
  });

  it('reads msgmax and msgmnb from the system', function () {
    const limits = msgqLimits();
    expect(limits.msgmax).to.equal(Number(readFileSync('/proc/sys/kernel/msgmax', 'utf8')));
    expect(limits.msgmnb).to.equal(Number(readFileSync('/proc/sys/kernel/msgmnb', 'utf8')));
  });

  it('creates its queue 0600 and reports the key it picked for msgq://0', async function () {
    const listener = await listen('msgq://0', () => {});
    const key = Number(listener.address.hostname);
    expect(key).to.be.above(0);
    const id = queueWithKey(key);
    expect(id, 'queue exists').to.not.equal(null);
    expect(native.msgStat(id!).mode).to.equal(0o600);
    await listener.close();
    expect(queueWithKey(key), 'queue removed by close()').to.equal(null);
  });

  it('refuses a key a live listener holds (EADDRINUSE), and reclaims it once that listener was SIGKILLed', async function () {
    const key = freshKey();
    const holder = await spawnHolder(`msgq://${key}`);
    await expectRejects(listen(`msgq://${key}`, () => {}), 'EADDRINUSE');
    // The refused attempt put the owner record back: the holder still serves.
    const link = await connect(`msgq://${key}`);
    const back = new Promise<string>((r) => link.onFrame((f) => r(Buffer.from(f).toString())));
    link.send(Buffer.from('still yours'));
    expect(await withTimeout(back, 5_000, 'echo from the holder')).to.equal('still yours');
    await link.close();

    holder.kill('SIGKILL');
    await exitOf(holder);
    expect(queueWithKey(key), 'a SIGKILLed listener leaves its queue').to.not.equal(null);
    const listener = await listen(`msgq://${key}`, echo);
    const again = await connect(`msgq://${key}`);
    const echoed = new Promise<string>((r) => again.onFrame((f) => r(Buffer.from(f).toString())));
    again.send(Buffer.from('reclaimed'));
    expect(await withTimeout(echoed, 5_000, 'echo on the reclaimed queue')).to.equal('reclaimed');
    await again.close();
    await listener.close();
    expect(queueWithKey(key)).to.equal(null);
  });

  it('never removes a queue with the key that is not a switchyard one (EEXIST)', async function () {
    const key = freshKey();
    const foreign = native.msgget(key, true, 0o600);
    try {
      const err = await expectRejects(listen(`msgq://${key}`, () => {}), 'EEXIST');
      expect(err.message).to.include(`msgq://${key}`);
      expect(queueWithKey(key)).to.equal(foreign);
    } finally {
      native.msgRemove(foreign);
    }
  });

  for (const how of ['SIGTERM', 'SIGINT', 'exit'] as const) {
    it(`removes the queue when the listening process ends by ${how}`, async function () {
      const key = freshKey();
      const holder = await spawnHolder(`msgq://${key}`);
      expect(queueWithKey(key)).to.not.equal(null);
      if (how === 'exit') holder.stdin!.write('exit\n');
      else holder.kill(how);
      const { signal } = await withTimeout(exitOf(holder), 10_000, 'holder exits');
      if (how !== 'exit') expect(signal, 'the process still dies of the signal').to.equal(how);
      expect(queueWithKey(key)).to.equal(null);
    });
  }

  it('a client sees peer-gone within 1 s when the listener is SIGKILLed, and removes the queue when it closes', async function () {
    const key = freshKey();
    const holder = await spawnHolder(`msgq://${key}`);
    const link = await connect(`msgq://${key}`);
    const back = new Promise<void>((r) => link.onFrame(() => r()));
    link.send(Buffer.from('x'));
    await withTimeout(back, 5_000, 'echo');
    const t0 = performance.now();
    holder.kill('SIGKILL');
    const reason = await withTimeout(link.closed, 1_000, 'peer-gone after SIGKILL of the listener');
    expect(reason.kind).to.equal('peer-gone');
    expect(performance.now() - t0).to.be.below(1_000);
    await link.close();
    expect(queueWithKey(key), 'the survivor removed the dead listener\'s queue').to.equal(null);
  });

  it('after a client is SIGKILLed mid-stream, the listener purges its messages and the queue empties', async function () {
    let accepted!: (l: Link) => void;
    const got = new Promise<Link>((r) => (accepted = r));
    const listener = await listen('msgq://0', (l) => accepted(l));
    const key = Number(listener.address.hostname);
    const peer = spawn(process.execPath, [fileURLToPath(new URL('../fixtures/peer.js', import.meta.url)), listener.address.href, 'flood'], { stdio: 'inherit' });
    children.push(peer);
    const link = await withTimeout(got, 10_000, 'accepted');
    // Do not read: the flooding peer fills what credit allows, then dies.
    link.pause();
    link.onFrame(() => {});
    await new Promise((r) => setTimeout(r, 100)); // "ready" arrives; then send go
    link.send(Buffer.from('go'));
    await new Promise((r) => setTimeout(r, 300));
    peer.kill('SIGKILL');
    expect((await withTimeout(link.closed, 1_000, 'peer-gone')).kind).to.equal('peer-gone');
    const id = queueWithKey(key)!;
    expect(native.msgStat(id).qnum, 'messages left in the queue (the owner record only)').to.equal(1);
    await listener.close();
    expect(queueWithKey(key)).to.equal(null);
  });

  it('one paused link does not stall another link on the same queue', async function () {
    const accepted: Link[] = [];
    const listener = await listen('msgq://0', (l) => accepted.push(l));
    try {
      await pausedDoesNotStall(listener, accepted);
    } finally {
      await listener.close();
    }
  });
});

async function pausedDoesNotStall(listener: Listener, accepted: Link[]): Promise<void> {
    const a = await connect(listener.address);
    const b = await connect(listener.address);
    // The listener takes a link on the client's ACK, which may be read after connect() returns.
    for (const deadline = Date.now() + 5_000; accepted.length < 2 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 5));
    const [sa, sb] = accepted;
    sa!.pause();
    let aFrames = 0;
    sa!.onFrame(() => aFrames++);
    echo(sb!);
    // A sends 4 MiB to its paused peer: far beyond the 16 KiB queue and the credit window,
    // so A backs up.
    const frame = Buffer.alloc(64 * 1024, 1);
    const aSent = 64;
    for (let i = 0; i < aSent; i++) a.send(frame);
    await new Promise((r) => setTimeout(r, 200));
    expect(a.bufferedAmount, 'A is backed up').to.be.above(0);
    // Meanwhile B round-trips 500 frames through the same queue.
    let n = 0;
    const done = new Promise<void>((resolve) =>
      b.onFrame(() => {
        if (++n === 500) resolve();
        else b.send(Buffer.alloc(100));
      }),
    );
    b.send(Buffer.alloc(100));
    await withTimeout(done, 5_000, '500 round trips on B while A is paused');
    expect(aFrames).to.equal(0);
    sa!.resume();
    await withTimeout(
      (async () => {
        while (aFrames < aSent) await new Promise((r) => setTimeout(r, 10));
      })(),
      10_000,
      'A delivers after resume',
    );
    expect(aFrames).to.equal(aSent);
    for (const l of [a, b]) await l.close();
    for (const l of accepted) expect((await l.closed).kind).to.be.oneOf(['closed', 'peer-gone']);
}
