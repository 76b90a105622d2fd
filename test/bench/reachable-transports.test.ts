/**
 * reachable-transports.test.ts: the default bench leaves nats out, with a note, when no NATS
 * server answers (a fresh machine), and keeps it when one does.
 */
import { expect } from 'chai';
import { createServer } from 'node:net';
import { reachableTransports } from '../../benchmarks/reachable-transports.js';

describe('bench: transports the default run can reach', function () {
  // Read when each test starts, not when this file loads: the shared test server's root hook
  // sets the variable after every file has loaded, and the suites after this one need it.
  let saved: string | undefined;
  beforeEach(function () {
    saved = process.env.SWITCHYARD_NATS_URL;
  });
  afterEach(function () {
    if (saved === undefined) delete process.env.SWITCHYARD_NATS_URL;
    else process.env.SWITCHYARD_NATS_URL = saved;
  });

  it('leaves nats out, saying why, when nothing listens at the NATS address', async function () {
    process.env.SWITCHYARD_NATS_URL = 'nats://127.0.0.1:1';
    const r = await reachableTransports(['unix', 'nats', 'tcp']);
    expect(r.schemes).to.deep.equal(['unix', 'tcp']);
    expect(r.notes.join('\n')).to.match(/nats left out: no NATS server at 127\.0\.0\.1:1/);
  });

  it('keeps nats when something accepts connections there', async function () {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      process.env.SWITCHYARD_NATS_URL = `nats://127.0.0.1:${(server.address() as { port: number }).port}`;
      const r = await reachableTransports(['unix', 'nats']);
      expect(r.schemes).to.deep.equal(['unix', 'nats']);
      expect(r.notes).to.deep.equal([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
