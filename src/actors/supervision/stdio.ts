/**
 * stdio.ts: a child's stdout and stderr, forwarded line by line to ours with a `[name pid]`
 * prefix, so the output of many children stays readable and attributable.
 *
 * Invariant: a line is written whole (a child's partial last line is flushed when its pipe
 * closes), and forwarding never keeps this process alive on its own.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * What happens to a child's stdout and stderr:
 * - `'prefix'` (default): forwarded to ours line by line as `[name pid] line`;
 * - `'inherit'`: the child writes to our stdout/stderr directly;
 * - `'ignore'`: discarded;
 * - a function: called with each line (without its newline) and the stream it came from.
 */
export type ChildStdio = 'prefix' | 'inherit' | 'ignore' | ((line: string, stream: 'stdout' | 'stderr', pid: number) => void);

/** The `stdio` setting to spawn with for `mode`. */
export function spawnStdio(mode: ChildStdio): 'pipe' | 'inherit' | 'ignore' {
  return mode === 'inherit' || mode === 'ignore' ? mode : 'pipe';
}

/** Starts forwarding `child`'s output as `mode` says. */
export function forwardOutput(child: ChildProcess, name: string, mode: ChildStdio): void {
  if (mode === 'inherit' || mode === 'ignore') return;
  const pid = child.pid ?? 0;
  const sink =
    typeof mode === 'function'
      ? mode
      : (line: string, stream: 'stdout' | 'stderr'): void => {
          (stream === 'stdout' ? process.stdout : process.stderr).write(`[${name} ${pid}] ${line}\n`);
        };
  const pump = (from: Readable | null, stream: 'stdout' | 'stderr'): void => {
    if (!from) return;
    const lines = createInterface({ input: from, crlfDelay: Infinity });
    lines.on('line', (line) => {
      try {
        sink(line, stream, pid);
      } catch {
        // a sink that throws loses its line, not the child
      }
    });
  };
  pump(child.stdout, 'stdout');
  pump(child.stderr, 'stderr');
}
