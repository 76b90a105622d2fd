/**
 * msgq-hostile.test.ts: HELLOs from a local process that never completes the handshake, or
 * that names a pid that cannot be watched, must not cost the listener a thread each, must
 * not fill its queue for good, and must not keep it from serving (or from closing).
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { native } from '../../src/native.js';
import { MAX_PENDING_HANDSHAKES } from '../../src/transports/datagram/msgq.js';

const KIND_HELLO = 0x10;
const VERSION = 2;

function threads(): number {
  return readdirSync('/proc/self/task').length;
}

function hello(pid: number, reply: number): Buffer {
  const m = Buffer.alloc(14);
  m[0] = KIND_HELLO;
  m[1] = VERSION;
  m.writeUInt32BE(pid, 2);
  m.writeUInt32BE(reply, 6);
  m.writeUInt32BE(256, 10);
  return m;
}

/** Sends `count` HELLOs (retrying while the small queue is full), as a client that then vanishes would. */
async function flood(msqid: number, pid: number, count: number, firstReply: number): Promise<void> {
  for (let i = 0; i < count; ) {
    if (native.msgsndBatch(msqid, 1, [hello(pid, firstReply + i)], 0) === 1) i++;
    else await new Promise((r) => setTimeout(r, 2));
  }
}

async function echoWorks(listener: Listener): Promise<void> {
  const link = await connect(listener.address);
  const back = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
  link.send(Buffer.from('still here'));
  expect(await back).to.equal('still here');
  await link.close();
}

describe('hostile: msgq handshakes', function () {
  const links: Link[] = [];
  let listener: Listener;
  let msqid: number;

  beforeEach(async function () {
    listener = await listen('msgq://0', (l) => {
      links.push(l);
      l.onFrame((f) => l.send(Buffer.from(f)));
    }, { timeoutMs: 400 });
    msqid = native.msgget(Number(listener.address.hostname), false, 0);
  });

  afterEach(async function () {
    await Promise.all(links.splice(0).map((l) => l.close()));
    await listener.close();
  });

  it('300 HELLOs that never finish cost no thread each, expire with their WELCOMEs, and a real client is served', async function () {
    const before = threads();
    await flood(msqid, process.pid, 300, 2 ** 30 + 1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(threads() - before, 'threads grown by 300 unfinished handshakes').to.be.below(8);
    // Past the listener's timeout the handshakes are gone, and so are the WELCOMEs nobody read.
    await new Promise((r) => setTimeout(r, 900));
    expect(native.msgStat(msqid).qnum, 'messages left: the owner record only').to.equal(1);
    await echoWorks(listener);
    expect(links.length, 'links handed out: only the real client').to.equal(1);
  });

  it(`past ${MAX_PENDING_HANDSHAKES} handshakes in flight a HELLO is refused with a reason; the listener serves again once they expire`, async function () {
    await flood(msqid, process.pid, MAX_PENDING_HANDSHAKES, 2 ** 30 + 5000);
    await new Promise((r) => setTimeout(r, 100));
    let refused: Error | undefined;
    try {
      await (await connect(listener.address, { timeoutMs: 2000 })).close();
    } catch (err) {
      refused = err as Error;
    }
    expect(String(refused), 'a client over the cap').to.match(/busy/);
    await new Promise((r) => setTimeout(r, 900));
    await echoWorks(listener);
  });

  for (const [what, pid] of [['pid 0 (kill(0, 0) always succeeds)', 0], ['a pid that does not exist', 4_194_300], ['a pid above pid_max', 0xffff_fff0]] as const) {
    it(`a HELLO naming ${what} gets a REJECT and holds nothing`, async function () {
      const reply = 2 ** 30 + 77;
      await flood(msqid, pid, 1, reply);
      let answer: Buffer | null = null;
      for (const deadline = Date.now() + 2000; answer === null && Date.now() < deadline; ) {
        answer = native.msgrcvNoWait(msqid, reply, 8192);
        if (answer === null) await new Promise((r) => setTimeout(r, 5));
      }
      expect(answer, 'an answer to the HELLO').to.not.equal(null);
      expect(answer![0], 'REJECT').to.equal(0x12);
      expect(native.msgStat(msqid).qnum, 'messages left: the owner record only').to.equal(1);
    });
  }

  it('a listener whose queue a flood keeps full still closes at once and removes the queue', async function () {
    // Fill the queue with messages of a type nobody reads.
    while (native.msgsndBatch(msqid, 999, [Buffer.alloc(1000)], 0) === 1) {}
    const t0 = Date.now();
    await listener.close();
    expect(Date.now() - t0, 'ms to close').to.be.below(1000);
    expect(() => native.msgStat(msqid), 'the queue after close').to.throw();
  });
});
