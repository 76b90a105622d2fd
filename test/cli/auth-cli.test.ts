/**
 * auth-cli.test.ts: the shared secret from the command line (issue 14, Deliver 5), with
 * `switchyard serve`, `call` and `stream` as real processes. The secret comes from
 * SWITCHYARD_SECRET or `--secret-file`, never argv (checked in /proc/PID/cmdline of a live
 * serve); the right secret is answered, a wrong or missing one fails that client with one
 * ERR_AUTH line while serve logs the refusal and keeps serving; and serve will not listen
 * off loopback without a secret unless given --insecure.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '../setup/tmp.js';
import { runBin, type Run } from './run-bin.js';
import { killStrays, startBin, type Running } from './spawn-bin.js';

const SECRET = randomBytes(24).toString('hex');

function env(secret?: string): NodeJS.ProcessEnv {
  const e = { ...process.env };
  delete e.SWITCHYARD_SECRET;
  if (secret !== undefined) e.SWITCHYARD_SECRET = secret;
  return e;
}

function expectOk(r: Run, stdout: string): void {
  expect(r.code, r.stderr).to.equal(0);
  expect(r.stdout).to.equal(stdout);
}

function expectAuthFailure(r: Run): void {
  expect(r.code, `exit code; stderr: ${r.stderr}`).to.equal(1);
  expect(r.stdout).to.equal('');
  expect(r.stderr).to.match(/^switchyard (call|stream|channel): cannot connect to .*ERR_AUTH/);
  expect(r.stderr, 'no stack trace').not.to.match(/\n\s+at /);
  expect(r.stderr, 'the secret is never printed').not.to.include(SECRET);
}

async function stopServe(serve: Running): Promise<void> {
  serve.child.kill('SIGTERM');
  expect(await serve.exited, serve.stderr()).to.equal(0);
}

describe('auth: switchyard serve, call, stream and channel with a shared secret', function () {
  this.timeout(60_000);
  after(killStrays);

  it('SWITCHYARD_SECRET: the right secret is answered, a wrong or missing one gets ERR_AUTH, serve logs it and serves on; the secret is not in /proc/PID/cmdline', async function () {
    const dir = makeTempDir();
    const serve = startBin(['serve', `unix://${dir}/s.sock`, '--name', 'auth-serve'], env(SECRET));
    try {
      const address = (await serve.line(/:\/\//)).trim();
      const cmdline = readFileSync(`/proc/${serve.child.pid}/cmdline`, 'utf8');
      expect(cmdline).to.include('serve');
      expect(cmdline, 'the secret on the command line').not.to.include(SECRET);
      expectOk(await runBin(['call', address, 'echo', 'echo', '"hi"'], 30_000, env(SECRET)), '"hi"\n');
      expectAuthFailure(await runBin(['call', address, 'echo', 'echo', '"hi"'], 30_000, env(randomBytes(24).toString('hex'))));
      expectAuthFailure(await runBin(['call', address, 'echo', 'echo', '"hi"'], 30_000, env()));
      expectOk(await runBin(['stream', address, 'ticker', 'ticks', '3', '5'], 30_000, env(SECRET)), '0\n1\n2\n');
      expectOk(await runBin(['channel', address, 'echo', 'sum'], 30_000, env(SECRET), '1\n2\n'), '1\n3\n');
      expectAuthFailure(await runBin(['channel', address, 'echo', 'sum'], 30_000, env(), '1\n'));
      expect(serve.stderr()).to.match(/incoming connection on .*ERR_AUTH/);
      expect(serve.stderr(), 'the secret in the log').not.to.include(SECRET);
    } finally {
      await stopServe(serve);
    }
  });

  it('--secret-file on both sides (over tcp); the file wins over the environment; --secret on argv is refused', async function () {
    const dir = makeTempDir();
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const serve = startBin(['serve', 'tcp://127.0.0.1:0', '--secret-file', file], env());
    try {
      const address = (await serve.line(/:\/\//)).trim();
      expectOk(await runBin(['call', address, 'counter', 'inc', '2', '--secret-file', file], 30_000, env()), '2\n');
      expectOk(await runBin(['stream', address, 'ticker', 'ticks', '2', '5', '--secret-file', file], 30_000, env('x'.repeat(32))), '0\n1\n');
      expectAuthFailure(await runBin(['call', address, 'counter', 'get'], 30_000, env()));
      const argv = await runBin(['call', address, 'counter', 'get', '--secret', SECRET], 30_000, env());
      expect(argv.code).to.equal(2);
      expect(argv.stderr).to.match(/--secret is not accepted/);
      expectOk(await runBin(['call', address, 'counter', 'get'], 30_000, env(SECRET)), '2\n');
    } finally {
      await stopServe(serve);
      rmSync(file, { force: true });
    }
  });

  it('serve refuses tcp on 0.0.0.0 without a secret (ERR_INSECURE) and allows it with --insecure', async function () {
    const refused = await runBin(['serve', 'tcp://0.0.0.0:0'], 30_000, env());
    expect(refused.code, refused.stderr).to.equal(1);
    expect(refused.stderr).to.match(/cannot listen on tcp:\/\/0\.0\.0\.0:0: refusing to listen .*without a secret.*ERR_INSECURE/);
    const serve = startBin(['serve', 'tcp://0.0.0.0:0', '--insecure'], env());
    try {
      const address = (await serve.line(/:\/\//)).trim();
      expect(address).to.match(/^tcp:\/\/0\.0\.0\.0:\d+$/);
    } finally {
      await stopServe(serve);
    }
  });
});
