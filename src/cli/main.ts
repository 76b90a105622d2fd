/**
 * main.ts: the `switchyard` command line. Subcommands live in their own files; this one only
 * dispatches. Arguments are parsed with node:util parseArgs (built in: no dependency needed).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { listTransports } from '../index.js';
import { bench } from './bench.js';

const USAGE = `usage: switchyard <command> [options]

commands:
  bench           measure every transport: round-trip latency and throughput
                  [--transports a,b] [--sizes 64,1024,65536,1048576] [--quick] [--json FILE]
  transports      list the registered transports and what they promise
  help            this text

options:
  -h, --help      this text
  -v, --version   the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        transports: { type: 'string' },
        sizes: { type: 'string' },
        quick: { type: 'boolean' },
        json: { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`switchyard: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command] = parsed.positionals;
  if (parsed.values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (parsed.values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  switch (command) {
    case 'bench': {
      const { transports, sizes, quick, json } = parsed.values;
      return bench({
        ...(transports !== undefined ? { transports } : {}),
        ...(sizes !== undefined ? { sizes } : {}),
        ...(quick !== undefined ? { quick } : {}),
        ...(json !== undefined ? { json } : {}),
      });
    }
    case 'transports':
      for (const t of listTransports()) {
        const c = t.capabilities;
        process.stdout.write(
          `${`${t.scheme}:`.padEnd(12)} ${c.reliable ? 'reliable' : 'best-effort'}, ${c.ordered ? 'ordered' : 'unordered'}, ` +
            `${c.crossHost ? 'cross-host' : 'local'}, ${t.pair ? 'parent/child' : 'addressed'}\n`,
        );
      }
      return 0;
    default:
      process.stderr.write(`switchyard: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
