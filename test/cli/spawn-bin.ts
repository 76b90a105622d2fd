/**
 * spawn-bin.ts: long-running `switchyard` commands (serve, demo) as real child processes:
 * start one, wait for a line on its stdout, signal it, and collect how it ended. Every child
 * started here is remembered and SIGKILLed by killStrays() if a test failed before ending it.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { BIN } from './run-bin.js';

export interface Running {
  child: ChildProcessByStdio<null, Readable, Readable>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + n for a signal death). */
  exited: Promise<number>;
  /** Resolves with the first stdout line matching `pattern`, rejects if the child exits first or after `ms`. */
  line(pattern: RegExp, ms?: number): Promise<string>;
}

const strays = new Set<Running>();

export function startBin(args: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      strays.delete(running);
      for (const w of waiters) w();
      resolve(code ?? 128 + (signal ? ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0 : 0));
    }),
  );
  const running: Running = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line(pattern, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(() => reject(new Error(`no line matching ${pattern} within ${ms} ms; stdout:\n${out}\nstderr:\n${err}`))), ms);
        const done = (f: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        const check = (): void => {
          const hit = out.split('\n').find((l) => pattern.test(l));
          if (hit !== undefined) done(() => resolve(hit));
          else if (child.exitCode !== null || child.signalCode !== null) {
            done(() => reject(new Error(`switchyard ${args.join(' ')} exited before printing ${pattern}; stdout:\n${out}\nstderr:\n${err}`)));
          }
        };
        waiters.add(check);
        check();
      });
    },
  };
  strays.add(running);
  return running;
}

/** SIGKILLs every child still running (for an afterEach after a failed test). */
export async function killStrays(): Promise<void> {
  const left = [...strays];
  for (const r of left) r.child.kill('SIGKILL');
  await Promise.all(left.map((r) => r.exited));
}
