/**
 * run-bin.ts: runs the real `switchyard` bin (bin/switchyard.js) as a child, as a user would,
 * and hands back its exit code and output whatever the code.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../../bin/switchyard.js', import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `input`, if given, is written to the child's stdin, which is then closed. */
export function runBin(args: string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = process.env, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`switchyard ${args.join(' ')}: ${err.message}\n${stderr}`));
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}
