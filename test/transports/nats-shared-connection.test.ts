/**
 * nats-shared-connection.test.ts: every listener and link of one process that names one
 * server shares one client connection (src/transports/nats/nats-pool.ts), counted by the
 * server itself (/connz), and that connection closes with the last of them.
 */
import { expect } from 'chai';
import { connect, type Link } from '../../src/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { withTimeout } from '../setup/timing.js';
import { connectionsBecome, listenAt, monitor, type Connz } from './nats-helpers.js';

/** Sends `text` on `link` and waits for the far side's echo. */
async function roundTrip(link: Link, text: string): Promise<string> {
  const echoed = new Promise<string>((resolve) => link.onFrame((f) => resolve(Buffer.from(f).toString())));
  link.send(Buffer.from(text));
  return withTimeout(echoed, 5_000, `the echo of ${text}`);
}

describe('nats: one connection per server per process', function () {
  this.timeout(30_000);
  let server: NatsServer;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await server?.stop();
  });

  it('carries a listener and 8 links on one client connection, and closes it with the last of them', async function () {
    const N = 8;
    const { listener, accepted } = await listenAt(server, 'shared');
    const links: Link[] = [];
    const fars: Link[] = [];
    for (let i = 0; i < N; i++) {
      links.push(await connect(listener.address));
      const far = await accepted();
      far.onFrame((f) => far.send(f));
      fars.push(far);
    }
    for (let i = 0; i < N; i++) expect(await roundTrip(links[i]!, `link ${i}`)).to.equal(`link ${i}`);

    const connz = await monitor<Connz>(server, '/connz?subs=1');
    expect(connz.num_connections, 'client connections on the server').to.equal(1);
    expect(connz.connections[0]!.name).to.equal(`switchyard ${process.pid}`);
    // One hello subject, and one subject per direction of each link, all on that connection.
    const subs = connz.connections[0]!.subscriptions_list ?? [];
    expect(subs.filter((s) => /^shared\.l[0-9a-f]{16}\.[0-9a-f]{32}\.(up|down)$/.test(s))).to.have.length(2 * N);

    // Closing all but one link and the listener keeps the connection for the one left...
    await listener.close();
    for (let i = 1; i < N; i++) {
      await links[i]!.close();
      expect((await fars[i]!.closed).kind).to.equal('peer-gone');
    }
    expect((await monitor<Connz>(server, '/connz')).num_connections).to.equal(1);
    expect(await roundTrip(links[0]!, 'the last one')).to.equal('the last one');
    const left = (await monitor<Connz>(server, '/connz?subs=1')).connections[0]!.subscriptions_list ?? [];
    expect(left.filter((s) => s.startsWith('shared.') && !s.startsWith('shared._sys.')), 'what the closed links and the listener subscribed is given back').to.have.length(2);
    // Both ends are in this process: one liveness subscription, to its own, while a link is left.
    expect(left.filter((s) => /^shared\._sys\.alive\.[0-9a-f]{32}$/.test(s)), 'the liveness watch').to.have.length(1);

    // ...and closing the last closes it.
    await links[0]!.close();
    await fars[0]!.closed;
    await connectionsBecome(server, 0);

    // A new link after that opens a new connection (not the closed one).
    const again = await listenAt(server, 'shared');
    const link = await connect(again.listener.address);
    const far = await again.accepted();
    far.onFrame((f) => far.send(f));
    expect(await roundTrip(link, 'again')).to.equal('again');
    expect((await monitor<Connz>(server, '/connz')).num_connections).to.equal(1);
    await link.close();
    await far.closed;
    await again.listener.close();
    await connectionsBecome(server, 0);
  });
});
