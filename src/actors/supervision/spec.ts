/**
 * spec.ts: the options of system.spawn() and of each child given to system.supervise(),
 * checked once at the public boundary and filled in with their documented defaults.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SwitchyardError } from '../../errors.js';
import { hasPrivateAddress } from '../../transports/core/private-address.js';
import { getTransport } from '../../transports/core/registry.js';
import type { LinkOptions } from '../../transports/core/transport.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { CONTROL_ACTOR } from './launch.js';
import { DEFAULT_LIVENESS, type LivenessOptions } from './liveness.js';
import { RESTART_POLICIES, type RestartPolicy } from './restart-policy.js';
import type { ChildStdio } from './stdio.js';

/** Options of `system.spawn()`. */
export interface SpawnOptions {
  /** The child's name: its actor's name, the prefix of its output lines. Default: the module's file name. */
  name?: string;
  /** Arguments for the definition's `init` (JSON values: they travel in the child's environment). */
  args?: unknown[];
  /** Extra environment for the child, over ours. */
  env?: NodeJS.ProcessEnv;
  /** Node flags for the child. Default none. */
  execArgv?: readonly string[];
  /** The child's working directory. Default ours. */
  cwd?: string;
  /** How the child links back: `pipe`, `socketpair`, `shm`, `unix`, `tcp`, `fifo`, `msgq` or `udp`. Default `socketpair`. */
  transport?: string;
  /** Restart policy. Default `permanent`. */
  restart?: RestartPolicy;
  /** Child output handling. Default `'prefix'` (`[name pid] line`). */
  stdio?: ChildStdio;
  /** Delay between restarts. Default 100 ms x2 up to 10 s, reset after 10 s of running. */
  backoff?: BackoffOptions;
  /** Heartbeats, or `false` for none. Default a ping every 1 s, hung after 5 s of silence. */
  liveness?: LivenessOptions | false;
  /** How long a child may take to start and answer, ms. Default 10000. */
  startTimeoutMs?: number;
  /** Tells held while the child is down; one more throws ChildQueueFullError. Default 1000. */
  maxQueued?: number;
  /** When stopping on purpose: how long in-flight calls may finish, ms. Default 5000. */
  drainMs?: number;
  /** After SIGTERM, how long before SIGKILL, ms. Default 2000. */
  killAfterMs?: number;
  /** Link options for the child's link. */
  link?: LinkOptions;
}

/** SpawnOptions checked, with every default filled in. */
export interface ResolvedSpec {
  name: string;
  module: string;
  node: string;
  args: unknown[];
  env: NodeJS.ProcessEnv;
  execArgv: readonly string[];
  cwd: string | undefined;
  transport: string;
  restart: RestartPolicy;
  stdio: ChildStdio;
  backoff: BackoffOptions;
  liveness: Required<LivenessOptions> | false;
  startTimeoutMs: number;
  maxQueued: number;
  drainMs: number;
  killAfterMs: number;
  link: LinkOptions;
}

const NAME = /^[^/\s]{1,100}$/;

function ms(name: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min || v > 2 ** 31 - 1) throw new RangeError(`${name} must be an integer number of ms in ${min} .. ${2 ** 31 - 1}, got ${String(v)}`);
  return v;
}

/** The module as a URL string: a URL, a file: URL string, or an absolute path. */
export function moduleHref(moduleUrl: URL | string): string {
  if (moduleUrl instanceof URL) return moduleUrl.href;
  if (typeof moduleUrl !== 'string' || moduleUrl === '') throw new TypeError('spawn needs the actor module as a URL (new URL("./actor.js", import.meta.url)) or an absolute path');
  if (moduleUrl.startsWith('/')) return pathToFileURL(moduleUrl).href;
  try {
    return new URL(moduleUrl).href;
  } catch {
    throw new TypeError(`spawn needs the actor module as a URL or an absolute path, got ${JSON.stringify(moduleUrl)}`);
  }
}

/** Checks `options` and fills in every default. */
export function resolveSpec(moduleUrl: URL | string, options: SpawnOptions = {}): ResolvedSpec {
  const module = moduleHref(moduleUrl);
  const name = options.name ?? basename(new URL(module).pathname).replace(/\.[cm]?js$/, '');
  if (!NAME.test(name) || name === CONTROL_ACTOR) throw new SwitchyardError('ERR_BAD_NAME', `child name must be 1-100 characters without "/" or spaces (and not ${CONTROL_ACTOR}), got ${JSON.stringify(name)}`);
  const transport = options.transport ?? 'socketpair';
  const t = getTransport(transport);
  if (!t.pair && !hasPrivateAddress(t.scheme)) throw new SwitchyardError('ERR_UNSUPPORTED', `spawn cannot link a child over ${transport}: it has neither parent/child pairs nor private addresses`);
  const restart = options.restart ?? 'permanent';
  if (!RESTART_POLICIES.includes(restart)) throw new TypeError(`restart must be one of ${RESTART_POLICIES.join(', ')}, got ${JSON.stringify(restart)}`);
  const args = options.args ?? [];
  if (!Array.isArray(args)) throw new TypeError('args must be an array');
  let roundTrip: unknown;
  try {
    roundTrip = JSON.parse(JSON.stringify(args)) as unknown;
  } catch (err) {
    throw new TypeError(`args must be JSON values: ${(err as Error).message}`);
  }
  const liveness = options.liveness === false ? false : { ...DEFAULT_LIVENESS, ...options.liveness };
  if (liveness) {
    ms('liveness.intervalMs', liveness.intervalMs, 1);
    ms('liveness.hungAfterMs', liveness.hungAfterMs, 1);
  }
  const maxQueued = options.maxQueued ?? 1000;
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`maxQueued must be an integer >= 0, got ${String(maxQueued)}`);
  return {
    name,
    module,
    // 48 random bits: the child proves it is ours by saying hello under this name (launch.ts)
    node: `${name}-${randomBytes(6).toString('hex')}`,
    args: roundTrip as unknown[],
    env: { ...process.env, ...options.env },
    execArgv: options.execArgv ?? [],
    cwd: options.cwd,
    transport: t.scheme,
    restart,
    stdio: options.stdio ?? 'prefix',
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    liveness,
    startTimeoutMs: ms('startTimeoutMs', options.startTimeoutMs, 10_000),
    maxQueued,
    drainMs: ms('drainMs', options.drainMs, 5000, 0),
    killAfterMs: ms('killAfterMs', options.killAfterMs, 2000, 0),
    link: options.link ?? {},
  };
}
