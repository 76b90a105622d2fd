/**
 * usage-error.ts: a mistake on the command line. main.ts prints its message with the usage
 * hint and exits 2; every other error exits 1.
 */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  override readonly name = 'UsageError';
}
