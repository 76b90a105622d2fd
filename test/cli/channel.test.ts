/**
 * channel.test.ts: `switchyard channel` against `switchyard serve` as real processes over a
 * real Unix socket, stdin piped in: values come back in order, the end of stdin ends the
 * channel with exit 0, a line that is not JSON is named, skipped and gives exit 2, a missing
 * channel is one ERR_NO_HANDLER line with exit 1, and 20,000 lines pass without loss or an
 * overflow (stdin is read against the channel's input credit, not as fast as it comes).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { makeTempDir } from '../setup/tmp.js';
import { BIN, runBin, type Run } from './run-bin.js';
import { killStrays, startBin, type Running } from './spawn-bin.js';

/** Runs `switchyard channel ...args` with `stdin` written to its stdin and then closed. */
function runChannel(args: string[], stdin: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'channel', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // the child may stop reading (it failed early): that is for the assertions, not an error here
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchyard channel ${args.join(' ')} did not exit within ${timeoutMs} ms; stdout:\n${stdout.slice(-500)}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128 + (signal === 'SIGKILL' ? 9 : 0), stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

function lines(values: unknown[]): string {
  return values.map((v) => `${JSON.stringify(v)}\n`).join('');
}

describe('cli: switchyard channel', function () {
  this.timeout(120_000);
  let serve: Running;
  let address: string;

  before(async function () {
    serve = startBin(['serve', `unix://${makeTempDir()}/s.sock`, '--name', 'test-serve']);
    address = (await serve.line(/:\/\//)).trim();
  });

  after(async function () {
    serve.child.kill('SIGTERM');
    expect(await serve.exited, serve.stderr()).to.equal(0);
    await killStrays();
  });

  it('sends each stdin line as one value and prints each output value in order; the end of stdin ends it with exit 0', async function () {
    const values = ['hi', 42, -2.5, null, true, { a: [1, 'x', { b: null }] }, [], 'ünïcødé ✓'];
    const echoed = await runChannel([address, 'echo', 'echo'], lines(values));
    expect(echoed.stderr).to.equal('');
    expect(echoed.code).to.equal(0);
    expect(echoed.stdout).to.equal(lines(values));

    // blank lines are ignored, a last line without its newline still counts
    const sum = await runChannel([address, 'echo', 'sum'], '1\n2\n\n  \n3\n10');
    expect(sum.stderr).to.equal('');
    expect(sum.code).to.equal(0);
    expect(sum.stdout).to.equal('1\n3\n6\n16\n');

    const empty = await runChannel([address, 'echo', 'sum'], '');
    expect(empty).to.deep.equal({ code: 0, stdout: '', stderr: '' });
  });

  it('a line that is not JSON is named on stderr and skipped; the channel goes on and the exit code is 2', async function () {
    const r = await runChannel([address, 'echo', 'echo'], '"a"\nnot json\n2\n{"x":\n"b"\n');
    expect(r.stdout).to.equal('"a"\n2\n"b"\n');
    expect(r.stderr).to.equal('switchyard channel: stdin line 2 is not JSON, skipped: not json\nswitchyard channel: stdin line 4 is not JSON, skipped: {"x":\n');
    expect(r.code).to.equal(2);
  });

  it('a missing channel, a missing actor and a handler that fails: one line on stderr, exit 1', async function () {
    const noChannel = await runChannel([address, 'echo', 'nope'], '1\n');
    expect(noChannel.code).to.equal(1);
    expect(noChannel.stdout).to.equal('');
    expect(noChannel.stderr).to.equal('switchyard channel: the remote side answered with an error: actor "echo" has no channel "nope" (ERR_NO_HANDLER)\n');

    const noActor = await runChannel([address, 'nobody', 'echo'], '1\n');
    expect(noActor.code).to.equal(1);
    expect(noActor.stderr).to.match(/^switchyard channel: .*no actor named "nobody" on test-serve \(ERR_NO_ACTOR\)\n$/);

    const bad = await runChannel([address, 'echo', 'sum'], '1\n2\n"x"\n4\n');
    expect(bad.code).to.equal(1);
    expect(bad.stdout).to.equal('1\n3\n');
    expect(bad.stderr).to.equal('switchyard channel: the remote side answered with an error: TypeError: sum takes finite numbers, got "x"\n');
  });

  it('usage mistakes exit 2; --help and the main usage describe it', async function () {
    const few = await runChannel([address, 'echo'], '');
    expect(few.code).to.equal(2);
    expect(few.stderr).to.match(/channel takes ADDRESS ACTOR NAME/);
    const arg = await runChannel([address, 'echo', 'sum', 'hi'], '');
    expect(arg.code).to.equal(2);
    expect(arg.stderr).to.match(/argument 1 is not JSON: hi/);
    const help = await runChannel(['--help'], '');
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^usage: switchyard channel ADDRESS ACTOR NAME/);
    expect((await runBin(['--help'])).stdout, 'the main usage names it').to.match(/^  channel ADDRESS ACTOR NAME /m);
  });

  it('20,000 lines pass in order with nothing lost and no overflow: stdin is read against the input credit', async function () {
    // The input buffer beyond the credit is 1024 values with overflow "error": a client that
    // read stdin as fast as it comes would fail this with ERR_STREAM_OVERFLOW.
    const n = 20_000;
    const input = Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
    const r = await runChannel([address, 'echo', 'sum'], input);
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    const out = r.stdout.split('\n');
    expect(out.pop()).to.equal('');
    expect(out).to.have.length(n);
    for (let i = 0; i < n; i++) {
      const k = i + 1;
      if (out[i] !== String((k * (k + 1)) / 2)) expect.fail(`line ${k}: ${out[i]}, expected the running sum ${(k * (k + 1)) / 2}`);
    }
  });
});
