/**
 * tmp.ts: private temp directories for benchmark listeners (socket files, FIFOs), removed
 * after each run. Only ever removes an empty directory: a leftover file is a transport leak
 * and must be seen, not swept away. The live ones are remembered, so an interrupted run can
 * remove them once the transports have removed their files (removeLiveTempDirs).
 */
import { mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const live = new Set<string>();
const owned = new Set<string>();

/**
 * A file the bench itself makes in a temp dir (a baseline's socket, not a transport's, whose
 * files cleanup.ts handles): removed by removeOwnedFile, or by removeLiveTempDirs.
 */
export function ownFile(path: string): string {
  owned.add(path);
  return path;
}

export function removeOwnedFile(path: string): void {
  rmSync(path, { force: true });
  owned.delete(path);
}

export function makeTempDirSync(): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-'));
  live.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmdirSync(dir);
  live.delete(dir);
}

/** Removes every live directory that is empty by now; best effort (for exit after a signal). */
export function removeLiveTempDirs(): void {
  for (const path of owned) removeOwnedFile(path);
  for (const dir of live) {
    try {
      removeTempDir(dir);
    } catch {
      // Not empty: a transport left a file, which is reported by its own cleanup, not hidden here.
    }
  }
}
