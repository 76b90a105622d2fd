/**
 * bench-args.test.ts: `switchyard bench` option parsing, in process: defaults, every option,
 * and a UsageError naming the option for each kind of mistake.
 */
import { expect } from 'chai';
import { DEFAULT_SIZES, parseBenchArgs, type BenchChoices } from '../../benchmarks/cli/bench-args.js';
import { UsageError } from '../../src/cli/usage-error.js';

const CHOICES: BenchChoices = { transports: ['pipe', 'unix', 'tcp'], baselines: ['child-json', 'raw-unix', 'worker', 'zeromq'], cores: 2 };

function usageError(argv: string[]): UsageError {
  try {
    parseBenchArgs(argv, CHOICES);
  } catch (err) {
    expect(err).to.be.instanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error(`parseBenchArgs(${argv.join(' ')}) did not throw`);
}

describe('cli: bench options', function () {
  it('defaults to the bus level, every transport and baseline, the four sizes, full tuning', function () {
    const o = parseBenchArgs([], CHOICES);
    expect(o).to.include({ level: 'bus', transports: null, baselines: null, mode: 'full', help: false });
    expect(o.sizes).to.deep.equal(DEFAULT_SIZES).and.deep.equal([64, 1024, 65536, 1048576]);
    expect(o.tuning.rtt.count).to.be.at.least(5000);
    expect(o).not.to.have.any.keys('json', 'html', 'cpu');
  });

  it('takes --quick, lists, files and --cpu', function () {
    const o = parseBenchArgs(
      ['--quick', '--transports', 'unix, tcp', '--baselines', 'worker', '--sizes', '8,4096', '--json', 'a.json', '--html', 'b.html', '--cpu', '0,1', '--level', 'link'],
      CHOICES,
    );
    expect(o.mode).to.equal('quick');
    expect(o.transports).to.deep.equal(['unix', 'tcp']);
    expect(o.baselines).to.deep.equal(['worker']);
    expect(o.sizes).to.deep.equal([8, 4096]);
    expect(o).to.include({ json: 'a.json', html: 'b.html' });
    expect(o.cpu).to.deep.equal({ bench: 0, peers: 1 });
    expect(parseBenchArgs(['--baselines', 'none'], CHOICES).baselines).to.deep.equal([]);
    expect(parseBenchArgs(['--transports', 'none'], CHOICES).transports).to.deep.equal([]);
  });

  it('quick is shorter than full, and the tuning flags override either (mode custom)', function () {
    const quick = parseBenchArgs(['--quick'], CHOICES).tuning;
    const full = parseBenchArgs([], CHOICES).tuning;
    expect(quick.rtt.count).to.be.below(full.rtt.count);
    expect(quick.throughputMs).to.be.below(full.throughputMs);
    const o = parseBenchArgs(['--quick', '--round-trips', '50', '--warmup', '5', '--duration-ms', '20', '--rtt-ms', '100'], CHOICES);
    expect(o.mode).to.equal('custom');
    expect(o.tuning).to.deep.include({ throughputMs: 20, warmup: { count: 5, maxMs: quick.warmup.maxMs }, rtt: { count: 50, maxMs: 100 } });
    expect(quick.rtt.count, 'presets are not mutated').to.equal(parseBenchArgs(['--quick'], CHOICES).tuning.rtt.count);
  });

  it('takes --level bus, link and all', function () {
    for (const level of ['bus', 'link', 'all']) expect(parseBenchArgs(['--level', level], CHOICES).level).to.equal(level);
  });

  const mistakes: Array<[string[], RegExp]> = [
    [['--transports', 'carrier-pigeon,unix'], /unknown transport\(s\) carrier-pigeon \(known: pipe, unix, tcp, or none\)/],
    [['--transports', 'unix,,tcp'], /--transports takes a comma-separated list/],
    [['--baselines', 'smoke-signals'], /unknown baseline\(s\) smoke-signals/],
    [['--sizes', '64,abc'], /--sizes takes byte counts from 8 to 67108864.*"abc"/],
    [['--sizes', '4'], /--sizes takes byte counts from 8/],
    [['--sizes', '999999999'], /--sizes takes byte counts/],
    [['--sizes', '1e3'], /--sizes takes byte counts/],
    [['--level', 'actor'], /--level takes bus, link, all, spawn, got "actor"/],
    [['--cpu', '0'], /--cpu takes two CPU numbers A,B/],
    [['--cpu', '0,7'], /--cpu: this machine has CPUs 0 to 1/],
    [['--round-trips', '0'], /--round-trips takes a whole number from 1/],
    [['--duration-ms', '-5'], /--duration-ms/],
    [['--json'], /--json/],
    [['--json', ''], /--json takes a file name/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['extra'], /bench takes no arguments besides options, got "extra"/],
  ];
  for (const [argv, message] of mistakes) {
    it(`rejects ${argv.join(' ')} with a clear UsageError`, function () {
      expect(usageError(argv).message).to.match(message);
    });
  }
});
