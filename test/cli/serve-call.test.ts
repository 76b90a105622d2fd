/**
 * serve-call.test.ts: `switchyard serve` with `call` and `stream` as real processes over real
 * sockets, FIFOs and queues: the built-in actors answer over every addressed transport we can
 * reach by address (unix, tcp, fifo, msgq), serve prints its real address and stops cleanly
 * on SIGINT/SIGTERM leaving nothing behind, and every kind of failure is one line on stderr
 * with a non-zero exit (2 for a usage mistake), never a stack trace.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../setup/tmp.js';
import { runBin, type Run } from './run-bin.js';
import { killStrays, startBin, type Running } from './spawn-bin.js';

/** The keys of the SysV message queues `ipcs -q` lists, or undefined without ipcs. */
function ipcQueueKeys(): number[] | undefined {
  let out: string;
  try {
    out = execFileSync('ipcs', ['-q'], { encoding: 'utf8' });
  } catch {
    return undefined;
  }
  return [...out.matchAll(/^0x([0-9a-f]+)\s/gm)].map((m) => parseInt(m[1]!, 16));
}

function expectOk(r: Run, stdout: string): void {
  expect(r.stderr, 'stderr').to.equal('');
  expect(r.code, r.stderr).to.equal(0);
  expect(r.stdout).to.equal(stdout);
}

function expectFailure(r: Run, code: number, message: RegExp): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).to.equal(code);
  expect(r.stdout).to.equal('');
  expect(r.stderr).to.match(message);
  expect(r.stderr, 'no stack trace').not.to.match(/\n\s+at /);
}

async function startServe(address: string): Promise<{ serve: Running; address: string }> {
  const serve = startBin(['serve', address, '--name', 'test-serve']);
  const line = await serve.line(/:\/\//);
  return { serve, address: line.trim() };
}

const TRANSPORTS: Array<[string, (dir: string) => string, RegExp]> = [
  ['unix', (dir) => `unix://${dir}/s.sock`, /^unix:\/\/\/.*\/s\.sock$/],
  ['tcp', () => 'tcp://127.0.0.1:0', /^tcp:\/\/127\.0\.0\.1:(?!0$)\d+$/],
  ['fifo', (dir) => `fifo://${dir}/f`, /^fifo:\/\/\/.*\/f$/],
  ['msgq', () => 'msgq://0', /^msgq:\/\/(?!0$)\d+$/],
];

describe('cli: switchyard serve, call and stream', function () {
  this.timeout(20_000);
  after(killStrays);

  for (const [scheme, listenOn, printed] of TRANSPORTS) {
    it(`over ${scheme}: echo, counter and ticker answer; SIGINT stops serve with exit 0 and nothing left`, async function () {
      const dir = makeTempDir();
      const { serve, address } = await startServe(listenOn(dir));
      expect(address).to.match(printed);
      expectOk(await runBin(['call', address, 'echo', 'echo', '"hi"']), '"hi"\n');
      expectOk(await runBin(['call', address, 'echo', 'echo', '{"a":[1,2.5,null,"x"]}']), '{"a":[1,2.5,null,"x"]}\n');
      expectOk(await runBin(['call', address, 'counter', 'inc', '5']), '5\n');
      expectOk(await runBin(['call', address, 'counter', 'inc']), '6\n');
      expectOk(await runBin(['call', address, 'counter', 'get']), '6\n');
      expectOk(await runBin(['stream', address, 'ticker', 'ticks', '3', '5']), '0\n1\n2\n');
      // --take unsubscribes from a stream that would run for ever; the process still exits.
      expectOk(await runBin(['stream', address, 'ticker', 'ticks', '1000000', '1', '--take', '4']), '0\n1\n2\n3\n');
      const msgqKey = scheme === 'msgq' ? Number(/^msgq:\/\/(\d+)$/.exec(address)![1]) : undefined;
      if (msgqKey !== undefined) expect(ipcQueueKeys() ?? [msgqKey], 'the queue exists while serving').to.include(msgqKey);
      serve.child.kill('SIGINT');
      expect(await serve.exited, serve.stderr()).to.equal(0);
      expect(serve.stderr()).to.include('SIGINT, stopping').and.include('connected');
      expect(readdirSync(dir), 'socket file / FIFO removed').to.deep.equal([]);
      if (msgqKey !== undefined) expect(ipcQueueKeys() ?? [], `queue key ${msgqKey} removed`).to.not.include(msgqKey);
      if (scheme === 'unix' || scheme === 'tcp') {
        const gone = await runBin(['call', address, 'echo', 'echo', '1', '--timeout', '3000']);
        expectFailure(gone, 1, /cannot connect to .*(ENOENT|ECONNREFUSED)/);
      }
    });
  }

  describe('failures', function () {
    let serve: Running;
    let address: string;
    let silent: Server | undefined;
    before(async function () {
      ({ serve, address } = await startServe(`unix://${makeTempDir()}/s.sock`));
    });
    after(async function () {
      serve.child.kill('SIGTERM');
      expect(await serve.exited, serve.stderr()).to.equal(0);
      if (silent) await new Promise((r) => silent!.close(r));
    });

    it('no such actor, no such message, a handler that throws: one line each, exit 1', async function () {
      expectFailure(await runBin(['call', address, 'nobody', 'get']), 1, /^switchyard call: .*no actor named "nobody" on test-serve \(ERR_NO_ACTOR\)\n$/);
      expectFailure(await runBin(['call', address, 'counter', 'fly']), 1, /^switchyard call: .*has no message "fly"/);
      expectFailure(await runBin(['call', address, 'counter', 'inc', '"x"']), 1, /^switchyard call: .*TypeError: inc takes a finite number, got "x"\n$/);
      expectFailure(await runBin(['stream', address, 'ticker', 'ticks', '-1']), 1, /^switchyard stream: .*ticks takes a count n >= 0, got -1\n$/);
      expectFailure(await runBin(['stream', address, 'ticker', 'nope']), 1, /^switchyard stream: .*nope/);
    });

    it('nobody listening, or a bad address: exit 1 and 2', async function () {
      const dir = makeTempDir();
      expectFailure(await runBin(['call', `unix://${dir}/none.sock`, 'echo', 'echo', '1']), 1, /cannot connect to unix:.*none\.sock.*ENOENT/);
      expectFailure(await runBin(['call', 'not-an-address', 'echo', 'echo', '1']), 2, /bad address "not-an-address"/);
      expectFailure(await runBin(['call', 'carrier://x', 'echo', 'echo', '1']), 2, /no transport for scheme "carrier:"/);
      expectFailure(await runBin(['serve', 'pipe:']), 1, /cannot listen on pipe:.*nothing to listen on/);
    });

    it('usage mistakes exit 2: a non-JSON argument, missing words, a bad option', async function () {
      expectFailure(await runBin(['call', address, 'echo', 'echo', 'hi']), 2, /argument 1 is not JSON: hi .*'"hi"'/);
      expectFailure(await runBin(['call', address, 'echo']), 2, /call takes ADDRESS ACTOR MESSAGE/);
      expectFailure(await runBin(['stream', address, 'ticker', 'ticks', '--take', '0']), 2, /--take takes a whole number from 1/);
      expectFailure(await runBin(['call', address, 'echo', 'echo', '1', '--frob']), 2, /unknown option "--frob"/);
      expectFailure(await runBin(['serve']), 2, /serve takes one ADDRESS/);
      // A negative number is a JSON argument, not an option.
      expectOk(await runBin(['call', address, 'echo', 'echo', '-2.5']), '-2.5\n');
    });

    it('--timeout: a peer that never says hello, and a stream that never ends', async function () {
      const path = join(makeTempDir(), 'silent.sock');
      silent = createServer((s) => s.resume()); // reads, so it sees the client leave
      await new Promise<void>((r) => silent!.listen(path, r));
      expectFailure(await runBin(['call', `unix://${path}`, 'echo', 'echo', '1', '--timeout', '300']), 1, /no reply from unix:.*silent\.sock within 300 ms/);
      await new Promise((r) => silent!.close(r));
      silent = undefined;
      expectFailure(await runBin(['stream', address, 'ticker', 'ticks', '10', '100000', '--timeout', '300']), 1, /the stream did not complete from .* within 300 ms/);
    });

    it('SIGINT ends a stream client with 130 after cancelling its stream', async function () {
      const client = startBin(['stream', address, 'ticker', 'ticks', '1000000', '20']);
      await client.line(/^1$/);
      client.child.kill('SIGINT');
      expect(await client.exited).to.equal(130);
      expect(client.stderr()).to.equal('switchyard stream: interrupted by SIGINT\n');
      // The server is unharmed and still answers.
      expectOk(await runBin(['call', address, 'counter', 'get']), '0\n');
    });
  });
});
