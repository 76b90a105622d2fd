/**
 * credited-input.test.ts: a channel input made with creditedInput() hears each grant of input
 * credit with the values it may send now, so a source that emits only against it never uses
 * the consumer's buffer: with bufferSize 0 and overflow "error", one value sent without credit
 * would fail the channel at once. Two systems over a real Unix socket; the far handler takes
 * its input slowly (a timer per value), so credit really runs out and comes back.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { concatMap, Observable, timer, map, lastValueFrom, toArray } from 'rxjs';
import { ActorSystem, defineActor } from '../../src/index.js';
import { creditedInput } from '../../src/bus/credited-input.js';
import { makeTempDir } from '../setup/tmp.js';
import { withTimeout } from '../setup/timing.js';

const slow = defineActor({
  init: () => ({}),
  channels: {
    // takes a value only every few ms, so its input credit comes back slowly
    double: (_s, input: Observable<number>) => input.pipe(concatMap((x) => timer(1).pipe(map(() => 2 * x)))),
  },
});

describe('bus: creditedInput paces a channel input by the credit granted', function () {
  this.timeout(60_000);

  it('2,000 values with bufferSize 0 and overflow "error": never one beyond the credit, all come back in order', async function () {
    const server = await ActorSystem.start({ name: 'server' });
    const client = await ActorSystem.start({ name: 'client' });
    try {
      server.local(slow, { name: 'slow' });
      const address = (await server.listen(`unix://${join(makeTempDir(), 's.sock')}`)).address;
      const remote = await client.connect(address);
      const n = 2_000;
      let next = 0;
      const grants: number[] = [];
      let emit: (available: number) => void = () => {};
      const source = new Observable<number>((subscriber) => {
        emit = (available) => {
          for (let i = 0; i < available && next < n; i++) subscriber.next(next++);
          if (next === n) subscriber.complete();
        };
      });
      const input = creditedInput(source, (available) => {
        grants.push(available);
        emit(available);
      });
      const out = await withTimeout(
        lastValueFrom(remote.ref('slow').with({ prefetch: 16, bufferSize: 0, overflow: 'error' }).channel('double', input).pipe(toArray())),
        40_000,
        'the channel completes',
      );
      expect(out).to.deep.equal(Array.from({ length: n }, (_, i) => 2 * i));
      // the first grant is the sub's credit; later ones come back as the handler takes values
      expect(grants[0]).to.equal(16);
      expect(grants.length).to.be.above(n / 16);
      for (const g of grants) expect(g).to.be.within(1, 16);
    } finally {
      await client.stop();
      await server.stop();
    }
  });
});
