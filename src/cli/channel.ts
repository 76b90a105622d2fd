/**
 * channel.ts: `switchyard channel ADDRESS ACTOR NAME [ARGS_JSON...]`: opens a channel, sends
 * each JSON line of stdin as one input value, prints each output value as one JSON line.
 *
 * stdin is read only as fast as the channel grants input credit (json-lines-input.ts), and
 * stdout is written as values arrive, whose credit goes back as they are written: a pipe
 * that is slow on either side slows the channel, never fills memory. Exit 0 when the output
 * completes; 1 when the channel fails (one line on stderr); 2 for a usage mistake, and also
 * when stdin had lines that are not JSON: each is named on stderr and skipped, the channel
 * runs on with the other lines, and the exit code says that some input was not sent.
 */
import { checkAddress } from './address-arg.js';
import { toJsonLine } from './cli-error.js';
import { withRemote } from './client.js';
import { jsonArgs, parseCommandArgs, wholeNumber } from './command-args.js';
import { jsonLinesInput } from './json-lines-input.js';
import { readSecret, refuseSecretOnArgv, SECRET_USAGE } from './secret-arg.js';
import { UsageError } from './usage-error.js';

export const CHANNEL_USAGE = `usage: switchyard channel ADDRESS ACTOR NAME [ARGS_JSON...] [--timeout MS] [--secret-file PATH]

Connects to the system at ADDRESS and opens ACTOR's channel NAME with the arguments (JSON
values). Each line of stdin is one JSON input value (blank lines are ignored; the end of
stdin completes the input); each output value is printed as one JSON line. stdin is read
only as fast as the channel grants credit. Exits 0 when the output completes, 1 if the
channel fails. A stdin line that is not JSON is named on stderr and skipped (the channel
goes on with the next line) and the exit code is then 2.

  --timeout MS   give up if the channel has not finished after MS milliseconds
${SECRET_USAGE}

e.g.  printf '1\\n2\\n3\\n' | switchyard channel unix:///tmp/s.sock echo sum
      (prints 1, 3, 6: the running sum; serve's echo actor also has the channel echo)
`;

export async function channel(argv: readonly string[]): Promise<number> {
  refuseSecretOnArgv(argv);
  const { positionals, flags, help } = parseCommandArgs(argv, ['timeout', 'secret-file']);
  if (help) {
    process.stdout.write(CHANNEL_USAGE);
    return 0;
  }
  if (positionals.length < 3) throw new UsageError('channel takes ADDRESS ACTOR NAME [ARGS_JSON...]');
  const [address, actor, name, ...rest] = positionals as [string, string, string, ...string[]];
  checkAddress(address);
  const args = jsonArgs(rest);
  const timeout = flags.get('timeout');
  const timeoutMs = timeout === undefined ? undefined : wholeNumber('timeout', timeout, 1, 86_400_000);
  const secret = readSecret(flags.get('secret-file'));
  let skipped = 0;
  const input = jsonLinesInput(process.stdin, (err) => {
    skipped++;
    process.stderr.write(`switchyard channel: ${err.message}\n`);
  });
  try {
    return await withRemote({ command: 'channel', address, timeoutMs, waitingFor: 'the channel did not complete', secret }, (remote, abort) => {
      const output = remote.ref(actor).channel(name, input, ...args);
      return new Promise<number>((resolve, reject) => {
        const sub = output.subscribe({
          next: (v) => process.stdout.write(`${toJsonLine(v)}\n`),
          error: reject,
          complete: () => resolve(skipped > 0 ? 2 : 0),
        });
        abort.addEventListener('abort', () => sub.unsubscribe(), { once: true });
      });
    });
  } finally {
    // the output may end before stdin does (the actor took what it wanted): stop reading it
    process.stdin.destroy();
  }
}
