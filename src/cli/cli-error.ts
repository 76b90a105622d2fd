/**
 * cli-error.ts: how a failure reads on the command line. A command that fails for a reason
 * the user can act on (nobody listening, no such actor, a remote handler threw, a timeout)
 * prints one line, never a stack: `describeError` turns switchyard's typed errors into it.
 */
import { AskTimeoutError, RemoteError, SwitchyardError } from '../index.js';

/** A failure the command has already put into words: main.ts prints the message, exits 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** One line for `err`: the message, and the code where it adds something. */
export function describeError(err: unknown): string {
  if (err instanceof RemoteError) {
    const code = err.code !== 'ERR_REMOTE' ? ` (${err.code})` : '';
    return `the remote side answered with an error: ${['Error', 'SwitchyardError'].includes(err.remoteName) ? '' : `${err.remoteName}: `}${err.message}${code}`;
  }
  if (err instanceof AskTimeoutError) return err.message;
  if (err instanceof SwitchyardError) return err.message.includes(err.code) ? err.message : `${err.message} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** JSON for one value as the CLI prints it: undefined is null, a bigint its decimal digits. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value ?? null, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
