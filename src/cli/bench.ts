/**
 * bench.ts: `switchyard bench`, the transport x message-size matrix at the Link level.
 * Progress goes to stderr (one line per cell), the table to stdout, JSON to --json FILE.
 * The table is Node's console.table: built in, so no dependency for it yet.
 */
import { writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { benchLink, type LinkBenchResult } from '../bench/link-bench.js';
import { listTransports } from '../index.js';

export interface BenchArgs {
  transports?: string;
  sizes?: string;
  quick?: boolean;
  json?: string;
}

export function machine(): Record<string, string | number> {
  const cpu = cpus();
  return { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, kernel: release(), platform: process.platform };
}

function parseList(value: string | undefined, fallback: string[]): string[] {
  return value === undefined ? fallback : value.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function bench(args: BenchArgs): Promise<number> {
  const schemes = parseList(args.transports, listTransports().map((t) => t.scheme));
  const known = new Set(listTransports().map((t) => t.scheme));
  const unknown = schemes.filter((s) => !known.has(s));
  if (unknown.length) {
    process.stderr.write(`switchyard bench: unknown transport(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})\n`);
    return 2;
  }
  const sizes = parseList(args.sizes, ['64', '1024', '65536', '1048576']).map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 64 * 1024 * 1024)) {
    process.stderr.write('switchyard bench: --sizes takes byte counts from 1 to 67108864, comma-separated\n');
    return 2;
  }
  const options = args.quick ? { roundTrips: 2000, warmup: 200, throughputMs: 300 } : { roundTrips: 10000, warmup: 1000, throughputMs: 2000 };
  const m = machine();
  process.stderr.write(`switchyard bench (link level) on ${m.cpu}, ${m.cores} cores, Node ${m.node}, Linux ${m.kernel}\n`);
  const results: LinkBenchResult[] = [];
  let cell = 0;
  const total = schemes.length * sizes.length;
  for (const scheme of schemes) {
    for (const size of sizes) {
      cell++;
      const r = await benchLink(scheme, size, {
        ...options,
        roundTrips: size >= 1024 * 1024 ? Math.ceil(options.roundTrips / 10) : options.roundTrips,
      });
      results.push(r);
      process.stderr.write(
        `[${cell}/${total}] ${scheme} ${size} B: p50 ${r.rtt.p50Us.toFixed(1)} us, ${Math.round(r.throughput.msgsPerSec)} msg/s, ${r.throughput.mbPerSec.toFixed(1)} MB/s\n`,
      );
    }
  }
  console.table(
    results.map((r) => ({
      transport: r.name,
      size: r.size,
      'p50 us': +r.rtt.p50Us.toFixed(1),
      'p99 us': +r.rtt.p99Us.toFixed(1),
      'p99.9 us': +r.rtt.p999Us.toFixed(1),
      'msg/s': Math.round(r.throughput.msgsPerSec),
      'MB/s': +r.throughput.mbPerSec.toFixed(1),
    })),
  );
  if (args.json) writeFileSync(args.json, `${JSON.stringify({ machine: m, results }, null, 2)}\n`);
  return 0;
}
