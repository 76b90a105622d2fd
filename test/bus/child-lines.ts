/**
 * child-lines.ts: runs a test fixture as a real child process and keeps its stdout lines
 * (the backpressure tests read a sender's progress from them). The caller kills and awaits it.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** A child whose stdout lines we keep. */
export function runChild(args: string[]): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let tail = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (tail + chunk).split('\n');
    tail = parts.pop()!;
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited };
}

