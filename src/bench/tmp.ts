/**
 * tmp.ts: private temp directories for benchmark listeners (socket files, FIFOs), removed
 * after each run. Only ever removes an empty directory: a leftover file is a transport leak
 * and must be seen, not swept away.
 */
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeTempDirSync(): string {
  return mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
}

export function removeTempDir(dir: string): void {
  rmdirSync(dir);
}
