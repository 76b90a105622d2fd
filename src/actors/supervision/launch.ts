/**
 * launch.ts: starts one child process that runs child-main.js and links back to us over the
 * chosen transport, without a shell (perlipc "Safe Pipe Opens": argv goes straight to execve).
 *
 * - Pair transports (pipe, socketpair, shm): spawnWithLink() hands the child its end.
 * - Addressed transports (unix, tcp, fifo, msgq, udp): we listen at privateAddress() in a
 *   fresh 0700 temp dir and the child connects; as soon as the child's link is attached the
 *   listener closes and the dir is removed (dispose()), so even a SIGKILL of ours leaves
 *   neither behind (a msgq queue lives on with its link; the child removes it if we die).
 * Either way the child must say hello as `spec.node`, a name with 48 random bits that only
 * the child's environment carries (readable by our uid alone): a link from anyone else is
 * closed. (On tcp/udp another local user could connect in the short window the listener is
 * open; the hello check stops it from becoming the child, but it is attached until then.)
 *
 * Owns: the listener and the temp dir (removed by dispose(), which is idempotent, or at exit
 * if this process ends before the child links back).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PeerGoneError, TransportError } from '../../errors.js';
import { spawnWithLink } from '../../transports/core/child.js';
import { privateAddress } from '../../transports/core/private-address.js';
import { removeNowOrAtExit } from '../../transports/core/cleanup.js';
import { getTransport, listen } from '../../transports/core/registry.js';
import type { Link, LinkOptions, Listener } from '../../transports/core/transport.js';
import type { RemoteSystem } from '../system.js';
import { forwardOutput, spawnStdio, type ChildStdio } from './stdio.js';

/** The environment variable that carries a child's instructions (JSON). */
export const CHILD_ENV = 'SWITCHYARD_CHILD';
/** The actor every child hosts beside the user's: `ready` (init done) and `ping` (liveness). */
export const CONTROL_ACTOR = '$supervision';
/** The exit code of a child whose module cannot be loaded or has no definition (sysexits EX_CONFIG): not worth a restart. */
export const EXIT_BAD_MODULE = 78;

const CHILD_MAIN = fileURLToPath(new URL('./child-main.js', import.meta.url));

/** What child-main.ts reads from CHILD_ENV. */
export interface ChildInstructions {
  /** The actor module (a file: URL). */
  module: string;
  /** The child's node id (its system's name). */
  node: string;
  /** The actor's name in the child. */
  actor: string;
  /** Arguments for the definition's `init`. */
  args: unknown[];
  /** Which incarnation this is (1, 2, ...). */
  incarnation: number;
  /** The address to connect to (addressed transports); absent for pair transports. */
  connect?: string;
  /** Our pid: the child exits when its parent is no longer this process. */
  parentPid: number;
}

/** What launch() starts: the child's name, transport, instructions and process options. */
export interface LaunchSpec {
  name: string;
  transport: string;
  instructions: Omit<ChildInstructions, 'connect' | 'parentPid'>;
  env: NodeJS.ProcessEnv;
  execArgv: readonly string[];
  cwd: string | undefined;
  stdio: ChildStdio;
  link: LinkOptions;
}

/** A started child process and its (pending) link back. */
export interface Launched {
  readonly proc: ChildProcess;
  /** The child's system, attached to ours; rejects if it never came (the process is then killed by the caller). */
  readonly remote: Promise<RemoteSystem>;
  /** Closes the listener (if any) and removes the temp dir. */
  dispose(): Promise<void>;
}

/** Starts a child. `attach` runs the bus over a link (ActorSystem.attach). */
export async function launch(spec: LaunchSpec, attach: (link: Link) => Promise<RemoteSystem>): Promise<Launched> {
  const transport = getTransport(spec.transport);
  const base: ChildInstructions = { ...spec.instructions, parentPid: process.pid };
  const checked = (remote: RemoteSystem): RemoteSystem => {
    if (remote.node !== spec.instructions.node) {
      void remote.close();
      throw new PeerGoneError(`a process that is not child ${spec.name} linked as ${remote.node}`);
    }
    return remote;
  };
  const mode = spawnStdio(spec.stdio);
  if (transport.pair) {
    const { link, child } = await spawnWithLink(spec.transport, CHILD_MAIN, {
      ...spec.link,
      env: { ...spec.env, [CHILD_ENV]: JSON.stringify(base) },
      execArgv: spec.execArgv,
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
      stdio: mode,
    });
    child.stdin?.end();
    forwardOutput(child, spec.name, spec.stdio);
    const remote = attach(link).then(checked);
    remote.catch(() => void link.close());
    return { proc: child, remote, dispose: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-spawn-'));
  let listener: Listener | undefined;
  let resolveRemote!: (r: RemoteSystem) => void;
  let rejectRemote!: (e: unknown) => void;
  const remote = new Promise<RemoteSystem>((res, rej) => ((resolveRemote = res), (rejectRemote = rej)));
  remote.catch(() => {});
  let settled = false;
  const closeListener = async (): Promise<void> => {
    const l = listener;
    listener = undefined;
    await l?.close();
  };
  // Removed by dispose(), or at exit if we die before the child links back; recursively, since
  // what a transport left in it is ours alone.
  const removeDir = removeNowOrAtExit(() => rmSync(dir, { recursive: true, force: true }));
  let disposed: Promise<void> | undefined;
  const dispose = (): Promise<void> =>
    (disposed ??= (async () => {
      await closeListener();
      removeDir();
    })());
  try {
    listener = await listen(
      privateAddress(spec.transport, dir, 'child'),
      (link) => {
        if (settled) {
          void link.close();
          return;
        }
        attach(link).then(
          (r) => {
            if (settled || r.node !== spec.instructions.node) {
              void r.close();
              return;
            }
            settled = true;
            // linked: the listener and its dir have done their work; nothing is left to a SIGKILL
            void dispose().catch(() => {});
            resolveRemote(r);
          },
          () => void link.close(),
        );
      },
      spec.link,
    );
  } catch (err) {
    await dispose();
    throw err;
  }
  let proc: ChildProcess;
  try {
    proc = spawn(process.execPath, [...spec.execArgv, CHILD_MAIN], {
      stdio: ['ignore', mode, mode],
      env: { ...spec.env, [CHILD_ENV]: JSON.stringify({ ...base, connect: listener.address.href }) },
      ...(spec.cwd !== undefined ? { cwd: spec.cwd } : {}),
    });
  } catch (err) {
    await dispose();
    throw TransportError.fromNode(err, CHILD_MAIN);
  }
  if (proc.pid === undefined) {
    const error = await new Promise<Error>((resolve) => proc.once('error', resolve));
    await dispose();
    throw TransportError.fromNode(error, CHILD_MAIN);
  }
  forwardOutput(proc, spec.name, spec.stdio);
  proc.once('exit', () => {
    if (!settled) {
      settled = true;
      rejectRemote(new PeerGoneError(`child ${spec.name} exited before it linked back`));
    }
  });
  return { proc, remote, dispose };
}
