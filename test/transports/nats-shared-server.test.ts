/**
 * nats-shared-server.test.ts: one nats-server for the registry-driven suites (transport
 * conformance, the bus), which reach nats through privateAddress('nats', ...) and so through
 * SWITCHYARD_NATS_URL. Root-level hooks: they run once around the whole mocha run, whichever
 * files are selected with it, and spawned peers inherit the variable.
 *
 * A last root hook closes every NATS connection still open, so a failed test cannot keep the
 * run from exiting.
 *
 * Where nats-server is missing, the variable stays unset: every nats case then fails against
 * 127.0.0.1:4222 with the transport's own "is nats-server running there?" message, and the
 * case below fails with how to install it. Never a silent skip.
 */
import { expect } from 'chai';
import { closeAllConnections } from '../../src/transports/nats/nats-pool.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

let shared: NatsServer | undefined;
let missing: Error | undefined;

// A server the developer named is used as it is; otherwise we start our own.
if (process.env.SWITCHYARD_NATS_URL === undefined) {
  before(async function () {
    this.timeout(15_000);
    try {
      shared = await startNatsServer();
      process.env.SWITCHYARD_NATS_URL = shared.url;
    } catch (err) {
      missing = err as Error;
    }
  });
  after(async function () {
    delete process.env.SWITCHYARD_NATS_URL;
    await shared?.stop();
  });
}

// Whatever a failed test left open: its connection would keep reconnecting to a server that
// is gone, and keep this process from exiting.
after(async function () {
  await closeAllConnections();
});

describe('nats: the shared test server', function () {
  it('is running for the conformance and bus suites', function () {
    if (missing) throw missing;
    expect(process.env.SWITCHYARD_NATS_URL).to.match(/^nats:\/\/127\.0\.0\.1:\d+$/);
  });
});
