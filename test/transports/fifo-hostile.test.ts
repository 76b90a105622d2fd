/**
 * fifo-hostile.test.ts: a local process that plants a regular file or a symlink where a
 * client's .up/.down FIFOs belong, then announces them, must not make the listener write into
 * the file it chose, nor kill it: that one handshake fails, and the listener keeps serving.
 */
import { expect } from 'chai';
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { connect, listen, type Link, type Listener } from '../../src/index.js';
import { makeTempDir } from '../setup/tmp.js';

const { O_WRONLY, O_NONBLOCK } = constants;

function announce(requestFifo: string, line: string): void {
  const fd = openSync(requestFifo, O_WRONLY | O_NONBLOCK);
  try {
    writeSync(fd, `${line}\n`);
  } finally {
    closeSync(fd);
  }
}

async function echoWorks(href: string): Promise<void> {
  const link = await connect(href);
  const back = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
  link.send(Buffer.from('still here'));
  expect(await back).to.equal('still here');
  await link.close();
}

describe('hostile: fifo client paths', function () {
  let dir: string;
  let listener: Listener;
  const accepted: Link[] = [];

  beforeEach(async function () {
    dir = makeTempDir();
    listener = await listen(`fifo://${join(dir, 'req')}`, (link) => {
      accepted.push(link);
      link.onFrame((f) => link.send(Buffer.from(f)));
    });
  });

  afterEach(async function () {
    await Promise.all(accepted.splice(0).map((l) => l.close()));
    await listener.close();
  });

  for (const planted of ['a symlink to a file', 'a regular file'] as const) {
    it(`a client's .up/.down that are ${planted} fail that handshake only; nothing is written into them`, async function () {
      const target = join(dir, 'victim.txt');
      writeFileSync(target, 'original');
      const id = `${process.pid}.00000000deadbeef`;
      const base = join(dir, `req.${id}`);
      if (planted === 'a regular file') {
        writeFileSync(`${base}.up`, '');
        writeFileSync(`${base}.down`, 'original');
      } else {
        symlinkSync(target, `${base}.up`);
        symlinkSync(target, `${base}.down`);
      }
      announce(join(dir, 'req'), id);
      // The listener works through the announcement, then serves a real client.
      await new Promise((r) => setTimeout(r, 200));
      await echoWorks(listener.address.href);
      expect(readFileSync(target, 'utf8'), 'the file behind the symlink').to.equal('original');
      if (planted === 'a regular file') expect(readFileSync(`${base}.down`, 'utf8'), 'the planted .down').to.equal('original');
      // Not ours: the listener leaves another process's names alone.
      expect(existsSync(`${base}.down`), 'the planted name').to.equal(true);
      expect(accepted.length, 'links handed out: only the real client').to.equal(1);
      for (const name of [`${base}.up`, `${base}.down`, target]) rmSync(name); // what this test planted
    });
  }
});
