/**
 * stream.ts: `switchyard stream ADDRESS ACTOR STREAM [ARGS_JSON...] [--take N]`: subscribes,
 * prints each value as one JSON line, exits 0 when the stream completes or after N values.
 * Taking N unsubscribes, which cancels the stream on the far side; so does Ctrl-C.
 */
import { take } from 'rxjs';
import { checkAddress } from './address-arg.js';
import { toJsonLine } from './cli-error.js';
import { withRemote } from './client.js';
import { jsonArgs, parseCommandArgs, wholeNumber } from './command-args.js';
import { readSecret, refuseSecretOnArgv, SECRET_USAGE } from './secret-arg.js';
import { UsageError } from './usage-error.js';

export const STREAM_USAGE = `usage: switchyard stream ADDRESS ACTOR STREAM [ARGS_JSON...] [--take N] [--timeout MS] [--secret-file PATH]

Connects to the system at ADDRESS, subscribes to ACTOR's STREAM with the arguments (JSON
values), and prints each value as one JSON line. Exits 0 when the stream completes.

  --take N       stop after N values (the stream is cancelled on the far side)
  --timeout MS   give up if the whole stream has not finished after MS milliseconds
${SECRET_USAGE}

e.g.  switchyard stream unix:///tmp/s.sock ticker ticks 5 100
`;

export async function stream(argv: readonly string[]): Promise<number> {
  refuseSecretOnArgv(argv);
  const { positionals, flags, help } = parseCommandArgs(argv, ['take', 'timeout', 'secret-file']);
  if (help) {
    process.stdout.write(STREAM_USAGE);
    return 0;
  }
  if (positionals.length < 3) throw new UsageError('stream takes ADDRESS ACTOR STREAM [ARGS_JSON...]');
  const [address, actor, name, ...rest] = positionals as [string, string, string, ...string[]];
  checkAddress(address);
  const args = jsonArgs(rest);
  const takeFlag = flags.get('take');
  const count = takeFlag === undefined ? undefined : wholeNumber('take', takeFlag, 1, Number.MAX_SAFE_INTEGER);
  const timeout = flags.get('timeout');
  const timeoutMs = timeout === undefined ? undefined : wholeNumber('timeout', timeout, 1, 86_400_000);
  const secret = readSecret(flags.get('secret-file'));
  return withRemote({ command: 'stream', address, timeoutMs, waitingFor: 'the stream did not complete', secret }, (remote, abort) => {
    let source = remote.ref(actor).stream(name, ...args);
    if (count !== undefined) source = source.pipe(take(count));
    return new Promise<number>((resolve, reject) => {
      const sub = source.subscribe({
        next: (v) => process.stdout.write(`${toJsonLine(v)}\n`),
        error: reject,
        complete: () => resolve(0),
      });
      abort.addEventListener('abort', () => sub.unsubscribe(), { once: true });
    });
  });
}
