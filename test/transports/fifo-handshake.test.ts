/**
 * fifo-handshake.test.ts: PROTOCOL.md §3 as a peer in another language would follow it, with
 * a hand-made client (raw FIFOs, no switchyard code on its side): a FIFO read before its
 * writer has opened it gives 0 bytes (EOF), not EAGAIN, and during the handshake that means
 * "not yet" on both sides. The client reads `.down` before the listener has opened it (EOF),
 * and holds back its `.up` for a while, so the listener reads EOF on `.up` many times: the
 * listener must still complete the handshake and hand out a link that carries §1 frames.
 */
import { expect } from 'chai';
import { closeSync, constants, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { listen, type Link } from '../../src/index.js';
import { native } from '../../src/native.js';
import { makeTempDir } from '../setup/tmp.js';
import { withTimeout } from '../setup/timing.js';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = constants;

/** One non-blocking read: the bytes, 'EOF' for 0, or 'EAGAIN'. */
function readNow(fd: number, max = 64): Buffer | 'EOF' | 'EAGAIN' {
  const b = Buffer.alloc(max);
  try {
    const n = readSync(fd, b, 0, max, null);
    return n === 0 ? 'EOF' : b.subarray(0, n);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return 'EAGAIN';
    throw err;
  }
}

/** Polls `fd` until it yields `n` bytes; EOF and EAGAIN both mean "not yet" here. */
async function readBytes(fd: number, n: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  const deadline = Date.now() + 20_000;
  while (have < n) {
    const r = readNow(fd, n - have);
    if (typeof r !== 'string') {
      chunks.push(r);
      have += r.length;
    } else if (Date.now() > deadline) throw new Error(`${what}: ${have} of ${n} bytes within 20 s (last read: ${r})`);
    else await new Promise((res) => setTimeout(res, 5));
  }
  return Buffer.concat(chunks);
}

describe('fifo handshake (§3): EOF before the writer opens means "not yet"', function () {
  this.timeout(60_000);

  it('a hand-made client that reads .down early and opens .up late still gets a link that carries frames', async function () {
    const dir = makeTempDir();
    const requestPath = join(dir, 'req');
    const accepted: Link[] = [];
    const listener = await listen(`fifo://${requestPath}`, (link) => {
      accepted.push(link);
      link.onFrame((f) => link.send(Buffer.from(f)));
    });
    const id = `${process.pid}.0123456789abcdef`;
    const base = `${requestPath}.${id}`;
    let down: number | undefined;
    let up: number | undefined;
    try {
      // 1. make the pair, open .down for reading
      native.mkfifo(`${base}.up`, 0o600);
      native.mkfifo(`${base}.down`, 0o600);
      down = openSync(`${base}.down`, O_RDONLY | O_NONBLOCK);
      // No writer has opened .down yet: the read is EOF, not EAGAIN.
      expect(readNow(down)).to.equal('EOF');
      // 2. announce
      const request = openSync(requestPath, O_WRONLY | O_NONBLOCK);
      writeSync(request, `${id}\n`);
      closeSync(request);
      // 3 (listener): opens .up for reading, .down for writing, writes 0x53. We have not opened
      // .up, so meanwhile the listener's reads of .up are EOF: it must keep waiting.
      expect((await readBytes(down, 1, 'the 0x53 on .down'))[0]).to.equal(0x53);
      // The listener's writer is open now: an empty .down is EAGAIN, no longer EOF.
      expect(readNow(down)).to.equal('EAGAIN');
      await new Promise((r) => setTimeout(r, 300));
      expect(accepted, 'no link before our 0x53').to.have.length(0);
      // 4. open .up for writing (the listener reads it), write 0x53, unlink both names
      up = openSync(`${base}.up`, O_WRONLY | O_NONBLOCK);
      writeSync(up, Buffer.of(0x53));
      unlinkSync(`${base}.up`);
      unlinkSync(`${base}.down`);
      // 5 (listener): reads the 0x53 and hands out the link, which echoes §1 frames
      const frame = Buffer.from('hello over a hand-made fifo');
      const out = Buffer.alloc(4 + frame.length);
      out.writeUInt32BE(frame.length, 0);
      frame.copy(out, 4);
      writeSync(up, out);
      const len = (await readBytes(down, 4, 'the echo length')).readUInt32BE(0);
      expect(len).to.equal(frame.length);
      expect((await readBytes(down, len, 'the echo payload')).toString()).to.equal(frame.toString());
      expect(accepted).to.have.length(1);
      // Closing our ends is EOF for the listener now: that link ends as peer-gone.
      closeSync(up);
      up = undefined;
      expect((await withTimeout(accepted[0]!.closed, 10_000, 'the listener sees us go')).kind).to.equal('peer-gone');
    } finally {
      if (up !== undefined) closeSync(up);
      if (down !== undefined) closeSync(down);
      for (const name of [`${base}.up`, `${base}.down`]) {
        try {
          unlinkSync(name);
        } catch {
          // already unlinked by step 4
        }
      }
      await Promise.all(accepted.map((l) => l.close()));
      await listener.close();
    }
  });
});
