/**
 * reply-backlog.test.ts: a peer that asks and never reads its answers (issue 14, defect 4:
 * 1,200 asks of 256 KiB grew the server by 323 MB). Once the answers waiting to be written
 * pass the link's high-water mark the server reads no more requests from that peer until
 * the link drains, so its memory stays bounded, while another client is still answered.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { ActorSystem, defineActor, type SystemListener } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { makeTempDir } from '../setup/tmp.js';
import { runChild } from './child-lines.js';
import { sleep } from '../setup/timing.js';

const FLOODER = fileURLToPath(new URL('../fixtures/flooder.js', import.meta.url));

const echo = defineActor({
  init: () => ({}),
  receive: { echo: (_s, b: Buffer) => b, ping: (_s, n: number) => n + 1 },
});

for (const scheme of ['unix', 'shm']) {
  describe(`hostile: limits: answers a peer never reads (${scheme})`, function () {
    this.timeout(120_000);
    let server: ActorSystem;
    let other: ActorSystem | undefined;
    let listener: SystemListener;
    let client: ReturnType<typeof runChild> | undefined;

    afterEach(async function () {
      client?.child.kill('SIGKILL');
      if (client) await client.exited;
      await other?.stop();
      await listener?.close();
      await server?.stop();
    });

    it('stops reading that peer above the high-water mark: server RSS bounded, another client answered meanwhile', async function () {
      server = await ActorSystem.start({ name: `backlog-srv-${scheme}-${process.pid}`, onError: () => {} });
      server.local(echo, { name: 'sink' });
      listener = await server.listen(privateAddress(scheme, makeTempDir(), 'backlog'));
      global.gc?.();
      const rss0 = process.memoryUsage().rss;
      client = runChild([FLOODER, 'ask', listener.address, `backlog-cli-${scheme}-${process.pid}`, '1200', String(256 * 1024)]);
      other = await ActorSystem.start({ name: `backlog-other-${scheme}-${process.pid}`, onError: () => {} });
      const ref = (await other.connect(listener.address)).ref('sink');

      let maxRss = rss0;
      let answered = 0;
      // 8 s of the flood (its own link would end it at 15 s of silence), asking from the other client all along
      for (let t = 0; t < 80 && !client.lines.includes('done'); t++) {
        expect(await ref.ask('ping', t), 'the other client is answered').to.equal(t + 1);
        answered++;
        maxRss = Math.max(maxRss, process.memoryUsage().rss);
        if (maxRss - rss0 > 300 * 1024 * 1024) break;
        await sleep(100);
      }
      const sent = client.lines.filter((l) => l.startsWith('sent ')).length * 100;
      expect(maxRss - rss0, `server RSS growth (bytes) with ${sent} asks sent`).to.be.below(150 * 1024 * 1024);
      expect(client.lines, 'the silent client is held back').not.to.include('done');
      expect(answered).to.be.at.least(1);
    });
  });
}
