/**
 * run.test.ts: the matrix runner records what it could not measure and goes on: a subject
 * that cannot start, a size above a channel's limit, and a cell whose peer stalls each
 * become a failure with its reason, while the other cells (including a best-effort channel's,
 * with its loss) are measured. Fake in-process subjects, so each case is exact. And small
 * sizes get three throughput trials, interleaved across subjects, the cell's figures being
 * the median trial's.
 */
import { expect } from 'chai';
import type { Channel } from '../../benchmarks/channel.js';
import { NO_PINNING } from '../../benchmarks/pinning.js';
import type { BenchFailure, BenchResult } from '../../benchmarks/result.js';
import { runMatrix, type CellLabel, type ProgressSink } from '../../benchmarks/run.js';
import type { Subject } from '../../benchmarks/subject.js';
import { ECHO, REPORT } from '../../benchmarks/wire.js';
import { FakeChannel } from './fake-channel.js';

function subject(name: string, open: () => Promise<Channel>): Subject {
  return { name, kind: 'baseline', open };
}

describe('bench: the matrix runner', function () {
  it('records failures with reasons, reopens after a failed cell, and measures the rest', async function () {
    let opens = 0;
    let n = 0;
    const small = new FakeChannel(true);
    Object.defineProperty(small, 'maxMessage', { value: 100 });
    const subjects = [
      subject('cannot-start', () => Promise.reject(new Error('no such thing'))),
      subject('small', async () => small),
      // The first channel it opens never answers an echo; the second works.
      subject('stalls-once', async () => (++opens === 1 ? new FakeChannel(true, (b) => b[0] === ECHO) : new FakeChannel(true))),
      subject('lossy', async () => new FakeChannel(false, () => ++n % 5 === 0)),
    ];
    const seen: string[] = [];
    const progress: ProgressSink = {
      start: (total) => seen.push(`start ${total}`),
      begin: () => {},
      end: (l: CellLabel, o: BenchResult | BenchFailure) => seen.push(`${l.index}/${l.total} ${l.name} ${l.size} ${'error' in o ? 'failed' : 'ok'}`),
      finish: () => seen.push('finish'),
      abort: () => seen.push('abort'),
    };
    const tuning = {
      warmup: { count: 5, maxMs: 1000 },
      rtt: { count: 50, maxMs: 5000 },
      throughputMs: 20,
      lossTimeoutMs: 20,
      stallMs: 300,
    };
    const { results, failures } = await runMatrix({ level: 'link', subjects, sizes: [64, 1000], tuning, pinning: NO_PINNING }, progress);
    expect(failures.filter((f) => f.skipped).map((f) => f.name)).to.deep.equal(['small']);
    expect(failures.map((f) => `${f.name} ${f.size}: ${f.error}`)).to.deep.equal([
      'cannot-start 64: could not start: no such thing',
      'cannot-start 1000: could not start: no such thing',
      "small 1000: skipped: 1000 B is above this channel's largest message (100 B)",
      'stalls-once 64: no echo reply within 300 ms',
    ]);
    expect(results.map((r) => `${r.name} ${r.size}`)).to.deep.equal(['small 64', 'stalls-once 1000', 'lossy 64', 'lossy 1000']);
    expect(opens).to.equal(2);
    const lossy = results.filter((r) => r.name === 'lossy');
    for (const r of lossy) {
      expect(r.rtt.samples).to.equal(50);
      expect(r.throughput.received).to.be.below(r.throughput.sent);
    }
    expect(seen[0]).to.equal('start 8');
    expect(seen.at(-1)).to.equal('finish');
    expect(seen).to.include('8/8 lossy 1000 ok').and.include('1/8 cannot-start 64 failed');
  });

  it('measures throughput up to 1 KiB as three trials, the later two in passes over every subject, and reports the median one; larger sizes once', async function () {
    const tuning = { warmup: { count: 2, maxMs: 1000 }, rtt: { count: 5, maxMs: 1000 }, throughputMs: 15, lossTimeoutMs: 20, stallMs: 300 };
    const quiet: ProgressSink = { start: () => {}, begin: () => {}, end: () => {}, finish: () => {}, abort: () => {} };
    // each throughput run ends with one REPORT: the order they reach the peers is the order of the trials
    const reports: string[] = [];
    const logged = (name: string) => subject(name, async () => new FakeChannel(true, (b, dir) => (dir === 'out' && b[0] === REPORT && reports.push(name), false)));
    const { results } = await runMatrix({ level: 'link', subjects: [logged('a'), logged('b')], sizes: [64, 1025], tuning, pinning: NO_PINNING }, quiet);
    expect(results.map((r) => `${r.name} ${r.size}`)).to.deep.equal(['a 64', 'a 1025', 'b 64', 'b 1025']);
    expect(reports).to.deep.equal(['a', 'a', 'b', 'b', 'a', 'b', 'a', 'b']);
    for (const r of results.filter((r) => r.size === 64)) {
      const trials = r.throughput.trials!;
      expect(trials, r.name).to.have.length(3);
      expect(r.throughput.msgsPerSec, 'the median trial').to.equal([...trials].sort((x, y) => x - y)[1]);
      expect(r.throughput.seconds, 'a whole trial').to.be.at.least(0.015);
    }
    for (const r of results.filter((r) => r.size === 1025)) expect(r.throughput.trials).to.equal(undefined);
  });
});
