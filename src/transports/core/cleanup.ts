/**
 * cleanup.ts: the one place that removes named OS objects (socket files, FIFOs) when the
 * process ends without closing them, and removes a name only if it is still ours.
 *
 * Transports register a remover when they create a named object and unregister it when
 * they remove it themselves (removeNowOrAtExit() does both: whichever comes first, once). On normal exit ('exit' event) every remaining remover runs,
 * synchronously. On SIGINT/SIGTERM/SIGHUP, when no handler other than switchyard's exists
 * (the signal would kill the process anyway), the removers run and the signal is re-raised
 * with its default action, so the process still dies of it and its parent sees that. When
 * the application handles the signal itself, we do nothing: it decides whether to exit, and
 * if it does, the 'exit' removers run then. Our handlers carry a marker shared by every copy
 * of switchyard in the process, so two copies never mistake each other for the application.
 * A SIGKILL leaves names behind by definition; each transport reclaims stale names on listen.
 */
import { lstatSync, unlinkSync } from 'node:fs';

type Remover = () => void;

const MARK = Symbol.for('switchyard.cleanup.signal-handler');
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const removers = new Set<Remover>();
let installed = false;

function runAll(): void {
  for (const remove of [...removers]) {
    removers.delete(remove);
    try {
      remove();
    } catch {
      // Best effort at exit: an object already gone is the outcome we wanted.
    }
  }
}

function isOurs(listener: unknown): boolean {
  return typeof listener === 'function' && (listener as unknown as Record<symbol, unknown>)[MARK] === true;
}

const onSignal = Object.assign(
  (signal: NodeJS.Signals): void => {
    if (process.listeners(signal).some((l) => !isOurs(l))) return; // the application decides
    runAll();
    uninstall();
    // Another copy of switchyard may still hold a handler: it runs in this same emit and
    // re-raises once it is the last.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  },
  { [MARK]: true },
);

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  // First in line, so that we look before any handler runs: an application's `once` handler
  // removes itself before it is called, and would look absent to a handler that runs after it.
  for (const s of SIGNALS) process.prependListener(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.removeListener('exit', runAll);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Registers `remove` to run at exit; returns a function that unregisters it. */
export function atExit(remove: Remover): () => void {
  install();
  removers.add(remove);
  return () => {
    removers.delete(remove);
    if (removers.size === 0) uninstall();
  };
}

/**
 * Registers `remove` to run at exit, and returns the function that runs it now instead: at
 * most once, whichever comes first (close, a failed listen, or the exit), and unregistered
 * before it runs, so an object its owner has removed is never removed again at exit.
 */
export function removeNowOrAtExit(remove: Remover): () => void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    forget();
    remove();
  };
  const forget = atExit(once);
  return once;
}

/** unlink(path), treating "already gone" as success. */
export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Remembers which file `path` is now (device and inode), and returns a remover that unlinks
 * it only if the path still names that same file: a listener that has since taken the path
 * over keeps its own. Never throws.
 */
export function ownName(path: string): () => void {
  // Inode numbers are reused at once after an unlink, so the birth time is part of the
  // identity (ctime will not do: I/O on a FIFO changes it). Where the filesystem keeps no
  // birth time it reads 0, and dev:ino is all we have.
  const identity = (): string => {
    const st = lstatSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.birthtimeNs}`;
  };
  const mine = identity();
  return () => {
    try {
      if (identity() === mine) unlinkSync(path);
    } catch {
      // Gone already, or not ours to remove.
    }
  };
}
