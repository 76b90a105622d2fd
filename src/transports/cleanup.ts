/**
 * cleanup.ts: the one place that removes named OS objects (socket files, FIFOs) when the
 * process ends without closing them.
 *
 * Transports register a remover when they create a named object and unregister it when
 * they remove it themselves. On normal exit ('exit' event) every remaining remover runs,
 * synchronously. On SIGINT/SIGTERM/SIGHUP, if nobody else handles the signal, the removers run
 * and the signal is re-raised with the default action, so the process still dies of it (and
 * its parent sees that). If the application has its own handler we only run the removers
 * and leave the decision to exit to it. A SIGKILL leaves names behind by definition; every
 * transport reclaims its stale names on the next listen (see unix.ts, fifo.ts).
 */
import { unlinkSync } from 'node:fs';

type Remover = () => void;

const removers = new Set<Remover>();
let installed = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

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

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  if (process.listenerCount(signal) === 1) {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    installed = false;
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once('exit', runAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Registers `remove` to run at exit; returns a function that unregisters it. */
export function atExit(remove: Remover): () => void {
  install();
  removers.add(remove);
  return () => {
    removers.delete(remove);
    if (removers.size === 0 && installed) {
      process.removeListener('exit', runAll);
      for (const s of SIGNALS) process.removeListener(s, onSignal);
      installed = false;
    }
  };
}

/** unlink(path), treating "already gone" as success. */
export function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
