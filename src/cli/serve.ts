/**
 * serve.ts: `switchyard serve ADDRESS [--name NAME]`: an ActorSystem that listens on ADDRESS
 * and hosts the built-in actors (src/cli/serve/builtin-actors.ts) until SIGINT or SIGTERM.
 *
 * Prints the real address (tcp port 0 becomes the port taken) as one line on stdout, then
 * one line per connection on stderr. The signal handlers go in before listen(), so the
 * transports' own signal cleanup defers to us; on a signal we stop the system (goodbye to
 * every client, listener closed: socket file, FIFO or queue removed) and exit 0.
 */
import { ActorSystem } from '../index.js';
import { BUILTIN_ACTORS } from './serve/builtin-actors.js';
import { CliError, describeError } from './cli-error.js';
import { onStopSignals } from './stop-signals.js';
import { parseCommandArgs } from './command-args.js';
import { checkAddress } from './address-arg.js';
import { readSecret, refuseSecretOnArgv, SECRET_USAGE } from './secret-arg.js';
import { UsageError } from './usage-error.js';

export const SERVE_USAGE = `usage: switchyard serve ADDRESS [--name NAME] [--secret-file PATH] [--insecure]

Listens on ADDRESS (unix:///path.sock, tcp://127.0.0.1:0, fifo:///dir/name, msgq://0,
udp://127.0.0.1:0) and hosts three actors until Ctrl-C or SIGTERM:
  echo      ask echo X            returns X
            channel echo          sends each input value back
            channel sum           answers each number with the running sum
  counter   ask inc [BY]          adds BY (default 1), returns the new value; ask get
  ticker    stream ticks N [MS]   0 .. N-1, one every MS (default 1000), then completes
Prints the address it listens on (with the real port for tcp port 0) as one line on stdout.

  --name NAME   this system's node name (default serve-<pid>)
${SECRET_USAGE}
                       With a secret, every client must prove it holds the same one.
  --insecure           allow listening off loopback (tcp, udp, nats) without a secret
`;

export async function serve(argv: readonly string[]): Promise<number> {
  refuseSecretOnArgv(argv);
  const { positionals, flags, help } = parseCommandArgs(argv, ['name', 'secret-file'], ['insecure']);
  if (help) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`serve takes one ADDRESS, got ${positionals.length ? `"${positionals.join(' ')}"` : 'none'}`);
  const address = checkAddress(positionals[0]!);
  const name = flags.get('name') ?? `serve-${process.pid}`;
  if (!/^[^/\s]{1,200}$/.test(name)) throw new UsageError(`--name takes 1-200 characters without "/" or spaces, got "${name}"`);
  const secret = readSecret(flags.get('secret-file'));

  let stopSignal!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (stopSignal = resolve));
  const stopHearing = onStopSignals(stopSignal);
  const system = await ActorSystem.start({
    name,
    ...(secret !== undefined ? { secret } : {}),
    onError: (err, context) => process.stderr.write(`switchyard serve: ${context}: ${describeError(err)}\n`),
  });
  try {
    for (const [actor, definition] of Object.entries(BUILTIN_ACTORS)) system.local(definition, { name: actor });
    let listening: string;
    try {
      listening = (await system.listen(address, { insecure: flags.has('insecure') })).address;
    } catch (err) {
      throw new CliError(`cannot listen on ${address}: ${describeError(err)}`);
    }
    process.stdout.write(`${listening}\n`);
    process.stderr.write(`switchyard serve: ${name} listening on ${listening} with actors ${Object.keys(BUILTIN_ACTORS).join(', ')}${secret !== undefined ? ', clients must prove the shared secret' : ''} (Ctrl-C stops)\n`);
    const watch = system.connections$.subscribe((remote) => {
      process.stderr.write(`switchyard serve: ${remote.node} connected\n`);
      void remote.closed.then(() => process.stderr.write(`switchyard serve: ${remote.node} left\n`));
    });
    const signal = await signalled;
    watch.unsubscribe();
    process.stderr.write(`switchyard serve: ${signal}, stopping\n`);
    return 0;
  } finally {
    await system.stop();
    stopHearing();
  }
}
