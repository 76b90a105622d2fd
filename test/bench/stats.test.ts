/**
 * stats.test.ts: nearest-rank percentiles: every reported figure is a measured sample.
 */
import { expect } from 'chai';
import { percentile, summarize } from '../../benchmarks/stats.js';

describe('bench: percentiles', function () {
  it('nearest rank over 1..1000, whatever the input order', function () {
    const samples = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(summarize(samples)).to.deep.equal({ p50Us: 500, p99Us: 990, p999Us: 999 });
  });

  it('small and empty sample sets', function () {
    expect(percentile(Float64Array.of(7), 0.999)).to.equal(7);
    expect(summarize(Float64Array.of(3, 1, 2))).to.deep.equal({ p50Us: 2, p99Us: 3, p999Us: 3 });
    expect(percentile(new Float64Array(0), 0.5)).to.be.NaN;
  });
});
