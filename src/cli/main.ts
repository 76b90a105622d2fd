/**
 * main.ts: the `switchyard` command line. Subcommands live in their own files and parse their
 * own options; this one only dispatches, and turns a UsageError into exit code 2 with a hint.
 */
import { readFileSync } from 'node:fs';
import { bench } from './bench.js';
import { call } from './call.js';
import { channel } from './channel.js';
import { demo } from './demo.js';
import { CliError, describeError } from './cli-error.js';
import { serve } from './serve.js';
import { stream } from './stream.js';
import { transports } from './transports.js';
import { UsageError } from './usage-error.js';
import { SwitchyardError } from '../index.js';

const USAGE = `usage: switchyard <command> [options]

commands:
  bench           measure every transport beside Node's usual IPC: latency and throughput
                  [--transports a,b] [--sizes 64,1024,65536,1048576] [--quick]
                  [--json FILE] [--html FILE] [--cpu A,B] [--level bus|link|all]
                  (switchyard bench --help for all options)
  serve ADDRESS   run a system on ADDRESS hosting the actors echo, counter and ticker
                  [--name NAME]
  call ADDRESS ACTOR MESSAGE [ARGS_JSON...]
                  ask an actor, print the reply as JSON [--timeout MS]
  stream ADDRESS ACTOR STREAM [ARGS_JSON...]
                  print each value of an actor's stream as a JSON line [--take N]
  channel ADDRESS ACTOR NAME [ARGS_JSON...]
                  open an actor's channel: JSON lines on stdin in, JSON lines out
  demo            a hub and three worker processes over three transports, streaming
                  live for ten seconds [--seconds N] (npm start runs it)
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

const COMMANDS: Record<string, (argv: readonly string[]) => Promise<number>> = {
  bench,
  call,
  channel,
  demo,
  serve,
  stream,
  transports,
};

/** Runs the CLI; returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '-h' || command === '--help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!run) {
    process.stderr.write(`switchyard: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`switchyard ${command}: ${err.message}\n(switchyard ${command} --help lists the options)\n`);
      return 2;
    }
    if (err instanceof CliError) {
      process.stderr.write(`switchyard ${command}: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof SwitchyardError) {
      process.stderr.write(`switchyard ${command}: ${describeError(err)}\n`);
      return 1;
    }
    process.stderr.write(`switchyard ${command}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}
