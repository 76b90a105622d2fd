/**
 * child-process.ts: starts and ends the Node child processes the CLI runs beside itself (the
 * demo's workers, the bench's peers). Owns: waiting for a child's exit (so close() returns
 * only once it is gone), killing a child that does not leave on its own after its channel
 * closed, and turning a child that dies before it is ready into an error, not a hang.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export function spawnPeer(script: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [script, ...args], { stdio: 'inherit', ...options });
}

/**
 * Resolves when `child` has exited. After `graceMs` it gets SIGTERM (so its transports still
 * remove their OS objects), after twice that SIGKILL.
 */
export function exitOf(child: ChildProcess, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const term = setTimeout(() => child.kill('SIGTERM'), graceMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), 2 * graceMs);
    child.once('exit', () => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve();
    });
  });
}

/** Rejects if `child` exits before `ready` settles, so a crashed peer is an error, not a hang. */
export function unlessExits<T>(child: ChildProcess, ready: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null): void =>
      reject(new Error(`${what} peer exited before it was ready (${signal ?? `code ${code}`})`));
    const onError = (err: Error): void => reject(err);
    child.once('exit', onExit);
    child.once('error', onError);
    ready.then(
      (v) => {
        child.off('exit', onExit);
        child.off('error', onError);
        resolve(v);
      },
      (err: unknown) => {
        child.off('exit', onExit);
        child.off('error', onError);
        reject(err);
      },
    );
  });
}
