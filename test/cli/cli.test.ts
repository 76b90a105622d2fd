/**
 * cli.test.ts: the real `switchyard` bin as a user meets it: help, version, and every kind of
 * mistake exiting 2 with a message that says what is wrong (and never a stack trace).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { runBin } from './run-bin.js';

describe('cli: switchyard', function () {
  it('prints the usage with no command, and the version with --version', async function () {
    const help = await runBin([]);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('usage: switchyard <command>').and.include('bench');
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect((await runBin(['--version'])).stdout.trim()).to.equal(pkg.version);
  });

  it('bench --help lists every option', async function () {
    const r = await runBin(['bench', '--help']);
    expect(r.code).to.equal(0);
    for (const option of ['--level', '--transports', '--baselines', '--sizes', '--quick', '--json', '--html', '--cpu']) {
      expect(r.stdout).to.include(option);
    }
  });

  it('serve, call, stream and demo each have --help, and the usage names them', async function () {
    const usage = (await runBin(['--help'])).stdout;
    for (const command of ['serve', 'call', 'stream', 'demo']) {
      expect(usage).to.match(new RegExp(`^  ${command} `, 'm'));
      const r = await runBin([command, '--help']);
      expect(r.code, command).to.equal(0);
      expect(r.stdout).to.match(new RegExp(`^usage: switchyard ${command} `));
    }
  });

  it('lists the registered transports', async function () {
    const r = await runBin(['transports']);
    expect(r.code).to.equal(0);
    expect(r.stdout).to.match(/^unix: +reliable/m).and.match(/^pipe: +reliable.*parent\/child/m);
  });

  const mistakes: Array<[string[], RegExp]> = [
    [['fly'], /unknown command "fly"/],
    [['bench', '--transports', 'carrier-pigeon'], /unknown transport\(s\) carrier-pigeon \(known: pipe, /],
    [['bench', '--sizes', '64,big'], /--sizes takes byte counts/],
    [['bench', '--level', 'nope'], /--level takes bus, link, all/],
    [['bench', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['transports', 'extra'], /takes no arguments/],
  ];
  for (const [args, message] of mistakes) {
    it(`exits 2 with a clear message for: switchyard ${args.join(' ')}`, async function () {
      const r = await runBin(args);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.match(message);
      expect(r.stderr).not.to.match(/\n\s+at /);
      expect(r.stdout).to.equal('');
    });
  }
});
