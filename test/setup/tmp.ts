/**
 * tmp.ts: owns the temporary directories tests create. makeTempDir() makes a fresh
 * `switchyard-test-*` directory under os.tmpdir() and registers it; the leak check
 * (test/setup/leak-check.ts) removes every registered directory after the run if it is empty,
 * and reports any that still holds files (a leftover FIFO or socket is a leak).
 * Tests never remove these directories themselves; they only clean up what they put inside.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Directories made by makeTempDir() and not yet removed by the leak check. */
export const registeredTempDirs = new Set<string>();

/** Creates a fresh, empty directory `switchyard-test-XXXXXX` in os.tmpdir(), registered for the leak check. */
export function makeTempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-test-'));
  registeredTempDirs.add(dir);
  return dir;
}

/** What removeRegisteredTempDirs() could not remove: a directory and the names left in it. */
export interface LeftoverDir {
  dir: string;
  entries: string[];
}

/**
 * Removes every registered directory that is empty (rmdir only: never recursive) and
 * returns those that still contain something, with the names found. Called by the leak check.
 */
export function removeRegisteredTempDirs(): LeftoverDir[] {
  const leftovers: LeftoverDir[] = [];
  for (const dir of registeredTempDirs) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        registeredTempDirs.delete(dir); // already gone
        continue;
      }
      throw err;
    }
    if (entries.length > 0) {
      leftovers.push({ dir, entries: entries.sort() });
      continue;
    }
    fs.rmdirSync(dir);
    registeredTempDirs.delete(dir);
  }
  return leftovers;
}
