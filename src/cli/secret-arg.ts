/**
 * secret-arg.ts: where `serve`, `call` and `stream` get the shared secret (PROTOCOL.md B.4):
 * `--secret-file PATH` (its content, one trailing newline dropped) or else the environment
 * variable SWITCHYARD_SECRET. Never from argv: every local user can read a process's command
 * line (/proc/PID/cmdline, ps), so `--secret VALUE` is refused with a usage error saying why.
 *
 * Invariant: the secret read from the environment is removed from our own environment at once,
 * so children we start do not inherit it.
 */
import { readFileSync } from 'node:fs';
import { MIN_SECRET_BYTES } from '../bus/auth.js';
import { UsageError } from './usage-error.js';

export const SECRET_ENV = 'SWITCHYARD_SECRET';

/** The usage lines for the secret, shared by the commands that take one. */
export const SECRET_USAGE = `  --secret-file PATH   require/present the shared secret in PATH (at least ${MIN_SECRET_BYTES} bytes;
                       a trailing newline is dropped); else ${SECRET_ENV} from the environment.
                       Never give a secret on the command line: other users can read it.`;

/** Throws a UsageError if argv tries to pass the secret itself. */
export function refuseSecretOnArgv(argv: readonly string[]): void {
  for (const a of argv) {
    if (a === '--') return;
    if (a === '--secret' || a.startsWith('--secret=')) {
      throw new UsageError(`--secret is not accepted: a command line is visible to every user (ps, /proc); use --secret-file PATH or ${SECRET_ENV}`);
    }
  }
}

/** The secret from `--secret-file` (given as `file`) or the environment, or undefined for none. */
export function readSecret(file: string | undefined): string | undefined {
  let secret: string | undefined;
  if (file !== undefined) {
    try {
      secret = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`--secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (secret === '') throw new UsageError(`--secret-file ${file} is empty`);
  } else {
    const env = process.env[SECRET_ENV];
    if (env !== undefined && env !== '') secret = env;
  }
  delete process.env[SECRET_ENV];
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < MIN_SECRET_BYTES) {
    throw new UsageError(`the secret (${file !== undefined ? `--secret-file ${file}` : SECRET_ENV}) must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return secret;
}
