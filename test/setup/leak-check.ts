/**
 * leak-check.ts: owns the suite-wide leak check, a mocha root-hook plugin loaded through
 * .mocharc.json ("require": "dist/test/setup/leak-check.js").
 *
 * beforeAll snapshots the system objects a transport could leave behind: SysV message queues,
 * shared memory segments and semaphore sets (`ipcs -q/-m/-s`), the entries of /dev/shm, and the
 * `switchyard-*` entries of os.tmpdir(). afterAll first removes the empty directories made by
 * makeTempDir() (test/setup/tmp.ts), then takes the snapshot again and fails the run with an
 * Error listing every object that is new, plus every registered directory still holding files.
 * If `ipcs` is not installed, only the SysV part is skipped, with a warning.
 *
 * Each run gets its own TMPDIR (`sy-testrun-*` under the real temp dir, set before any test
 * runs and inherited by every child), so two runs on one machine never see each other's temp
 * files; the run dir is removed at the end if empty, and reported otherwise.
 * SWITCHYARD_LEAK_CHECK_SKIP=ipc,devshm turns a class of check into a warning, for developers
 * running suites side by side on one machine; CI never sets it.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeRegisteredTempDirs } from './tmp.js';

const realTmp = os.tmpdir();
const runTmp = fs.mkdtempSync(path.join(realTmp, 'sy-testrun-'));
process.env.TMPDIR = runTmp;
// A run whose root hooks never ran (no test matched --grep, or mocha failed to load a file)
// still removes its empty run dir; rmdir never removes anything else.
process.on('exit', () => {
  try {
    removeRegisteredTempDirs(); // the empty ones only
    fs.rmdirSync(runTmp);
  } catch {
    // not empty (the leak check reported why) or already gone
  }
});

const skipped = new Set((process.env.SWITCHYARD_LEAK_CHECK_SKIP ?? '').split(',').filter(Boolean));

type IpcKind = 'q' | 'm' | 's';
const IPC_NAMES: Record<IpcKind, string> = {
  q: 'message queue',
  m: 'shared memory segment',
  s: 'semaphore set',
};

interface Snapshot {
  /** `ipcs` identities such as "message queue key=0x00000000 id=3"; null when ipcs is missing. */
  ipc: Set<string> | null;
  /** Names in /dev/shm. */
  shm: Set<string>;
  /** Names in os.tmpdir() starting with `switchyard-`. */
  tmp: Set<string>;
}

let ipcsMissing = false;

/** Lists the SysV objects of one kind, or null if ipcs is not installed. */
function listIpc(kind: IpcKind): string[] | null {
  if (ipcsMissing) return null;
  let out: string;
  try {
    out = execFileSync('ipcs', [`-${kind}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      ipcsMissing = true;
      console.warn('leak-check: `ipcs` is not installed; SysV IPC objects are not checked for leaks');
      return null;
    }
    throw err;
  }
  const ids: string[] = [];
  // Lines look like: "0x00000000 3          user       600        0            0"
  for (const line of out.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (!cols[0] || !cols[0].startsWith('0x')) continue;
    const [key, id, owner] = cols;
    ids.push(`${IPC_NAMES[kind]} key=${key} id=${id ?? '?'} owner=${owner ?? '?'}`);
  }
  return ids;
}

function listDir(dir: string, prefix = ''): Set<string> {
  try {
    return new Set(fs.readdirSync(dir).filter((n) => n.startsWith(prefix)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Set();
    throw err;
  }
}

function snapshot(): Snapshot {
  let ipc: Set<string> | null = new Set();
  for (const kind of ['q', 'm', 's'] as const) {
    const ids = listIpc(kind);
    if (ids === null) {
      ipc = null;
      break;
    }
    for (const id of ids) ipc.add(id);
  }
  return {
    ipc,
    shm: listDir('/dev/shm'),
    tmp: listDir(os.tmpdir(), 'switchyard-'),
  };
}

function added(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((x) => !before.has(x)).sort();
}

let before: Snapshot | undefined;

export const mochaHooks = {
  beforeAll(): void {
    before = snapshot();
  },

  afterAll(): void {
    if (!before) return; // beforeAll never ran
    const problems: string[] = [];

    // Registered temp dirs first: empty ones are removed, non-empty ones are leaks.
    const leftovers = removeRegisteredTempDirs();
    const reportedTmp = new Set<string>();
    for (const { dir, entries } of leftovers) {
      reportedTmp.add(path.basename(dir));
      problems.push(`temp dir ${dir} still contains: ${entries.join(', ')}`);
    }

    const after = snapshot();
    const warnings: string[] = [];
    if (before.ipc && after.ipc) {
      const sink = skipped.has('ipc') ? warnings : problems;
      for (const id of added(before.ipc, after.ipc)) sink.push(`SysV ${id}`);
    }
    const shmSink = skipped.has('devshm') ? warnings : problems;
    for (const name of added(before.shm, after.shm)) shmSink.push(`/dev/shm/${name}`);
    for (const name of added(before.tmp, after.tmp)) {
      if (!reportedTmp.has(name)) problems.push(path.join(os.tmpdir(), name));
    }
    const inRun = listDir(runTmp);
    for (const name of inRun) {
      if (!name.startsWith('switchyard-')) problems.push(path.join(runTmp, name));
    }
    if (inRun.size === 0) fs.rmdirSync(runTmp);
    if (warnings.length > 0) {
      console.warn(`leak check (SWITCHYARD_LEAK_CHECK_SKIP, not failing): new objects:\n  ${warnings.join('\n  ')}`);
    }

    if (problems.length > 0) {
      throw new Error(
        `leak check: ${problems.length} object(s) left behind by the tests:\n  ` + problems.join('\n  '),
      );
    }
  },
};
