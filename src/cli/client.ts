/**
 * client.ts: what `call` and `stream` share: a short-lived ActorSystem that connects to
 * ADDRESS, hands the remote system to the command, and is stopped afterwards whatever
 * happened, so the process exits at once with nothing left open.
 *
 * `--timeout MS` bounds the whole command (connect, handshake, and the reply or the stream);
 * when it fires, the command fails with a clear line. Ctrl-C and SIGTERM end it the same way
 * (exit 130 / 143) after stopping the system, so a stream is cancelled on the far side.
 */
import { constants as osConstants } from 'node:os';
import { ActorSystem, connect, type RemoteSystem } from '../index.js';
import { CliError, describeError } from './cli-error.js';
import { onStopSignals } from './stop-signals.js';

export interface ClientOptions {
  command: string;
  address: string;
  /** Whole-command limit, ms; undefined = none (a stream may run for ever). */
  timeoutMs: number | undefined;
  /** What did not happen in time, for the timeout message: "no reply", "the stream did not complete". */
  waitingFor: string;
  /** The shared secret to present (secret-arg.ts), if any. */
  secret?: string | undefined;
}

/** Asks and handshakes never wait longer than this when no --timeout is given. */
const DEFAULT_ASK_MS = 30_000;

/**
 * Connects, runs `body`, stops. `body` gets an AbortSignal that fires on timeout or on a
 * signal; it should then end what it is doing (unsubscribe) and return.
 */
export async function withRemote(options: ClientOptions, body: (remote: RemoteSystem, abort: AbortSignal) => Promise<number>): Promise<number> {
  const { command, address, timeoutMs } = options;
  const system = await ActorSystem.start({
    name: `${command}-${process.pid}`,
    askTimeoutMs: timeoutMs ?? DEFAULT_ASK_MS,
    handshakeTimeoutMs: Math.min(timeoutMs ?? 5000, 5000),
    ...(options.secret !== undefined ? { secret: options.secret } : {}),
    onError: (err, context) => process.stderr.write(`switchyard ${command}: ${context}: ${describeError(err)}\n`),
  });
  const abort = new AbortController();
  let failure: CliError | undefined;
  const stop = (why: CliError): void => {
    failure ??= why;
    abort.abort(why);
  };
  const onSignal = (signal: NodeJS.Signals): void => stop(new CliError(`interrupted by ${signal}`, 128 + (osConstants.signals[signal] ?? 0)));
  const stopHearing = onStopSignals(onSignal);
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => stop(new CliError(`${options.waitingFor} from ${address} within ${timeoutMs} ms (--timeout)`)), timeoutMs);
  const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true }));
  aborted.catch(() => {});
  try {
    let remote: RemoteSystem;
    // The link is made here, not by system.connect(): a link that connects after a timeout or
    // a signal stopped the system would be left open by it (attach() refuses it without
    // closing it) and keep this process alive; here it is closed.
    const connecting = connect(address);
    try {
      const link = await Promise.race([connecting, aborted]);
      remote = await Promise.race([
        system.attach(link, { role: 'client' }).catch(async (err: unknown) => {
          await link.close();
          throw err;
        }),
        aborted,
      ]);
    } catch (err) {
      if (abort.signal.aborted) void connecting.then((link) => link.close(), () => {});
      if (err instanceof CliError) throw err;
      throw new CliError(`cannot connect to ${address}: ${describeError(err)}`);
    }
    const code = await Promise.race([body(remote, abort.signal), aborted]);
    if (failure) throw failure;
    return code;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(describeError(err));
  } finally {
    clearTimeout(timer);
    await system.stop();
    stopHearing();
  }
}
