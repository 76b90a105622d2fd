/**
 * nats-cli.test.ts: `switchyard serve nats://...` with `call` and `stream` as real processes
 * through a real nats-server this file starts: the built-in actors answer, serve prints the
 * real subject as its address, stops on SIGINT with exit 0 and leaves no connection or
 * subscription on the server; a call to a name nobody serves any more fails at once, in one line.
 */
import { expect } from 'chai';
import { runBin, type Run } from '../cli/run-bin.js';
import { killStrays, startBin } from '../cli/spawn-bin.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';

function expectOk(r: Run, stdout: string): void {
  expect(r.stderr, 'stderr').to.equal('');
  expect(r.code, r.stderr).to.equal(0);
  expect(r.stdout).to.equal(stdout);
}

describe('nats: switchyard serve, call and stream', function () {
  this.timeout(30_000);
  let server: NatsServer;

  before(async function () {
    server = await startNatsServer({ monitor: true });
  });
  after(async function () {
    await killStrays();
    await server?.stop();
  });

  it('serves the built-in actors on a subject, and leaves nothing on the server after SIGINT', async function () {
    const serve = startBin(['serve', `${server.url}/cli?name=svc`, '--name', 'test-serve']);
    const address = (await serve.line(/:\/\//)).trim();
    expect(address).to.equal(`${server.url}/cli/svc`);
    expectOk(await runBin(['call', address, 'echo', 'echo', '"hi"']), '"hi"\n');
    expectOk(await runBin(['call', address, 'counter', 'inc', '5']), '5\n');
    expectOk(await runBin(['call', address, 'counter', 'get']), '5\n');
    expectOk(await runBin(['stream', address, 'ticker', 'ticks', '3', '5']), '0\n1\n2\n');
    expectOk(await runBin(['stream', address, 'ticker', 'ticks', '1000000', '1', '--take', '4']), '0\n1\n2\n3\n');

    serve.child.kill('SIGINT');
    expect(await serve.exited, serve.stderr()).to.equal(0);
    expect(serve.stderr()).to.include('SIGINT, stopping').and.include('connected');
    const connz = (await (await fetch(`${server.monitorUrl!}/connz`)).json()) as { num_connections: number };
    expect(connz.num_connections, 'connections left on the server').to.equal(0);

    const gone = await runBin(['call', address, 'echo', 'echo', '1', '--timeout', '3000']);
    expect(gone.code).to.equal(1);
    expect(gone.stderr).to.match(/^switchyard call: cannot connect to .*nobody listens on cli\.svc\.hello \(ECONNREFUSED\)\n$/);
    expect(gone.stderr, 'no stack trace').not.to.match(/\n\s+at /);
  });
});
