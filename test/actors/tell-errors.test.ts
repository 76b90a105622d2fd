/**
 * tell-errors.test.ts: a tell has no one to answer, so what its handler throws or rejects
 * with goes to the system's onError, naming the actor and the message; for a tell from
 * another system (over a unix socket) as for a local one, run at once or queued behind a
 * busy handler.
 */
import { expect } from 'chai';
import { ActorSystem, defineActor } from '../../src/index.js';
import { privateAddress } from '../../src/transports/core/private-address.js';
import { until } from '../setup/timing.js';
import { makeTempDir } from '../setup/tmp.js';

const failing = defineActor({
  init: () => ({}),
  receive: {
    boom: (_s, tag: string) => {
      throw new Error(`boom ${tag}`);
    },
    later: async (_s, tag: string) => {
      await new Promise((r) => setImmediate(r));
      throw new Error(`later ${tag}`);
    },
  },
});

describe('actors: a failed tell is reported to onError with the actor and message names', function () {
  it('remote and local, sync throw and async rejection, idle and queued', async function () {
    const seen: string[] = [];
    const server = await ActorSystem.start({ name: 'tell-errors-server', onError: (err, context) => seen.push(`${context}: ${(err as Error).message}`) });
    const client = await ActorSystem.start({ name: 'tell-errors-client', onError: () => {} });
    try {
      const local = server.local(failing, { name: 'failing' });
      const listener = await server.listen(privateAddress('unix', makeTempDir(), 'tell-errors'));
      const remote = (await client.connect(listener.address)).ref<typeof failing>('failing');
      remote.tell('boom', 'remote');
      remote.tell('later', 'remote');
      remote.tell('boom', 'remote, queued'); // behind the async handler
      await until('the remote tells are reported', 5000, () => seen.length === 3);
      local.tell('boom', 'local');
      local.tell('later', 'local');
      await until('the local tells are reported', 5000, () => seen.length === 5);
      expect(seen).to.deep.equal([
        'actor failing, tell "boom": boom remote',
        'actor failing, tell "later": later remote',
        'actor failing, tell "boom": boom remote, queued',
        'actor failing, tell "boom": boom local',
        'actor failing, tell "later": later local',
      ]);
      await listener.close();
    } finally {
      await client.stop();
      await server.stop();
    }
  });
});
