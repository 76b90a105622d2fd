/**
 * child.ts: spawn a child Node process that inherits one end of a parent/child link, and,
 * in the child, open that end.
 *
 * The child is started without a shell (perlipc "Safe Pipe Opens"): argv goes straight to
 * execve. Its end arrives as stdio slots 3, 4, ... and its address (`pipe:?fds=3,4`) in the
 * environment variable SWITCHYARD_LINK, which linkFromParent() reads and then removes, so the
 * child's own children do not mistake it for theirs.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { TransportError } from '../../errors.js';
import { connect, pair } from './registry.js';
import type { ShmLinkOptions } from '../shm/settings.js';
import type { Link, LinkOptions } from './transport.js';

/** The environment variable that carries the inherited end's address. */
export const LINK_ENV = 'SWITCHYARD_LINK';

/** Options for spawnWithLink: LinkOptions, the pair transports' own (shm's ring size and spin), and the child's. */
export interface SpawnWithLinkOptions extends LinkOptions, Pick<ShmLinkOptions, 'ringSize' | 'spinUs'> {
  /** Arguments after the module path. */
  args?: readonly string[];
  /** Extra environment for the child (merged over process.env). */
  env?: NodeJS.ProcessEnv;
  /** Node flags for the child (default: none). */
  execArgv?: readonly string[];
  /** stdio for slots 0-2. Default `'inherit'`. */
  stdio?: 'inherit' | 'ignore' | 'pipe';
  cwd?: string;
}

export interface SpawnedLink {
  readonly link: Link;
  readonly child: ChildProcess;
}

/**
 * Makes a `scheme` pair ('pipe' or 'socketpair'), spawns `node modulePath ...args` with the
 * child's end inherited, and closes this process's copy of that end.
 */
export async function spawnWithLink(scheme: string, modulePath: string, options: SpawnWithLinkOptions = {}): Promise<SpawnedLink> {
  const { link, child: end } = await pair(scheme, options);
  const base = options.stdio ?? 'inherit';
  const spawnOptions: SpawnOptions = {
    stdio: [base, base, base, ...end.fds],
    env: { ...process.env, ...options.env, [LINK_ENV]: end.address },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  };
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, [...(options.execArgv ?? []), modulePath, ...(options.args ?? [])], spawnOptions);
  } catch (err) {
    await link.close();
    throw TransportError.fromNode(err, modulePath);
  } finally {
    // spawn() has dup'ed the fds into the child (or failed): our copies must go now.
    end.release();
  }
  if (child.pid === undefined) {
    // spawn reports ENOENT & co. asynchronously through 'error'.
    const error = await new Promise<Error>((resolve) => child.once('error', resolve));
    await link.close();
    throw TransportError.fromNode(error, modulePath);
  }
  return { link, child };
}

/** In a child started by spawnWithLink: opens the end it inherited. */
export function linkFromParent(options?: LinkOptions): Promise<Link> {
  const address = process.env[LINK_ENV];
  if (!address) {
    return Promise.reject(
      new TransportError('ERR_NO_INHERITED_LINK', `${LINK_ENV} is not set: this process was not started by spawnWithLink()`),
    );
  }
  delete process.env[LINK_ENV];
  return connect(address, options);
}
