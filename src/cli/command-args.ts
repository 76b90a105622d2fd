/**
 * command-args.ts: the small argument parser shared by serve, call, stream and demo:
 * positionals and `--option VALUE` flags in any order, `--` ends the options.
 *
 * Not node:util parseArgs, because message arguments are JSON and may look like options
 * (`-1`, `-2.5e3`): an argument that starts with "-" and is a JSON number is a positional.
 * Every mistake is a UsageError naming what is wrong.
 */
import { UsageError } from './usage-error.js';

export interface ParsedArgs {
  positionals: string[];
  /** Flag values by name (without the dashes); boolean flags map to ''. */
  flags: Map<string, string>;
  help: boolean;
}

/**
 * Parses `argv`. `valued` names the flags that take a value, `booleans` those that do not.
 */
export function parseCommandArgs(argv: readonly string[], valued: readonly string[], booleans: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  let help = false;
  let optionsEnded = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (optionsEnded || !arg.startsWith('-') || arg === '-' || isJsonNumber(arg)) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsEnded = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!arg.startsWith('--') || (!valued.includes(name) && !booleans.includes(name))) {
      throw new UsageError(`unknown option "${arg}"${valued.length + booleans.length ? ` (options: ${[...valued, ...booleans].map((o) => `--${o}`).join(', ')})` : ''}`);
    }
    if (flags.has(name)) throw new UsageError(`--${name} is given twice`);
    if (booleans.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      flags.set(name, '');
      continue;
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { positionals, flags, help };
}

function isJsonNumber(s: string): boolean {
  return /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(s);
}

/** A whole number from `min` to `max`, or a UsageError naming the option. */
export function wholeNumber(option: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${option} takes a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Parses message arguments given as JSON; the n-th bad one is a UsageError saying how to quote. */
export function jsonArgs(args: readonly string[]): unknown[] {
  return args.map((text, i) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new UsageError(
        `argument ${i + 1} is not JSON: ${text} (arguments are JSON values: a string needs its quotes, e.g. '"${text.replace(/'/g, '')}"')`,
      );
    }
  });
}
