/**
 * call.ts: `switchyard call ADDRESS ACTOR MESSAGE [ARGS_JSON...]`: one ask, the reply as JSON
 * on stdout. Exit 0 on a reply, 1 on any failure (one line on stderr), 2 on a usage mistake.
 */
import { checkAddress } from './address-arg.js';
import { toJsonLine } from './cli-error.js';
import { withRemote } from './client.js';
import { jsonArgs, parseCommandArgs, wholeNumber } from './command-args.js';
import { readSecret, refuseSecretOnArgv, SECRET_USAGE } from './secret-arg.js';
import { UsageError } from './usage-error.js';

export const CALL_USAGE = `usage: switchyard call ADDRESS ACTOR MESSAGE [ARGS_JSON...] [--timeout MS] [--secret-file PATH]

Connects to the system at ADDRESS, asks ACTOR the MESSAGE with the arguments (each one a
JSON value: '"hi"' is the string hi, 42 a number, '{"a":1}' an object), prints the reply as
JSON and exits 0. Errors (nobody there, no such actor or message, the handler threw, no
reply in time) print one line on stderr and exit 1.

  --timeout MS   give up after MS milliseconds (default 30000)
${SECRET_USAGE}

e.g.  switchyard call unix:///tmp/s.sock echo echo '"hi"'
      switchyard call tcp://127.0.0.1:7000 counter inc 5
`;

export async function call(argv: readonly string[]): Promise<number> {
  refuseSecretOnArgv(argv);
  const { positionals, flags, help } = parseCommandArgs(argv, ['timeout', 'secret-file']);
  if (help) {
    process.stdout.write(CALL_USAGE);
    return 0;
  }
  if (positionals.length < 3) throw new UsageError('call takes ADDRESS ACTOR MESSAGE [ARGS_JSON...]');
  const [address, actor, message, ...rest] = positionals as [string, string, string, ...string[]];
  checkAddress(address);
  const args = jsonArgs(rest);
  const timeout = flags.get('timeout');
  const timeoutMs = timeout === undefined ? 30_000 : wholeNumber('timeout', timeout, 1, 86_400_000);
  const secret = readSecret(flags.get('secret-file'));
  return withRemote({ command: 'call', address, timeoutMs, waitingFor: 'no reply', secret }, async (remote) => {
    const reply = await remote.ref(actor).with({ timeout: timeoutMs }).ask(message, ...args);
    process.stdout.write(`${toJsonLine(reply)}\n`);
    return 0;
  });
}
