/**
 * kill-parent.test.ts: SIGKILL of the parent while its child streams to it, over every
 * transport (the parent is test/fixtures/fault-parent.ts; its child a plain bus-peer,
 * not a supervised one, so only the transport tells the child its parent is gone).
 *
 * Outcome (docs/GUARANTEES.md, "peer crash" and "cleanup"): the child notices and exits by
 * itself within 5 s (no orphan); what a SIGKILLed listener could not remove (a unix socket
 * file, a fifo, a shm record) is reclaimed by the next listen() at its address, which
 * succeeds; a msgq child removes the queue its dead listener made; and after that nothing
 * of either process is left in ipcs, /dev/shm or the temp dir.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen } from '../../src/index.js';
import { makeTempDir } from '../setup/tmp.js';
import { alive, cmdline, gone } from '../supervision/helpers.js';
import { devShmOf, exited, expectNothingLeft, FAULT_TRANSPORTS, sysvOf } from './helpers.js';

const PARENT = fileURLToPath(new URL('../fixtures/fault-parent.js', import.meta.url));

/** Starts the parent; resolves with its `ready` line's pids and address. */
function startParent(label: string, tmp: string, started: ChildProcess[]): Promise<{ parent: ChildProcess; childPid: number; address: string }> {
  const parent = spawn(process.execPath, [PARENT, label], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: tmp } });
  started.push(parent);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the ${label} parent did not get ready within 20 s; it printed: ${out}`)), 20_000);
    parent.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /^ready (\d+) (\d+) (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ parent, childPid: Number(m[2]), address: m[3]! });
      }
    });
    parent.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${label} parent exited (${code}) before it was ready: ${out}`));
    });
  });
}

describe('fault: SIGKILL of the parent mid-stream', function () {
  const started: ChildProcess[] = [];
  const orphans: number[] = [];
  afterEach(() => {
    for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const pid of orphans.splice(0)) {
      // only if it is still our bus-peer (a pid that went may have been reused by anyone)
      try {
        if (alive(pid) && cmdline(pid).some((a) => a.endsWith('bus-peer.js'))) process.kill(pid, 'SIGKILL');
      } catch {
        // it went between the two looks
      }
    }
  });

  for (const label of FAULT_TRANSPORTS) {
    it(`over ${label}: the child exits by itself within 5 s; what the dead listener left is reclaimed by a new listen(); nothing left`, async function () {
      const tmp = makeTempDir();
      const { parent, childPid, address } = await startParent(label, tmp, started);
      orphans.push(childPid);
      parent.kill('SIGKILL');
      await exited(parent);
      // exited: an orphan is init's to reap, on init's schedule, so a zombie counts as gone
      await gone(childPid, 5000, `the ${label} child of a SIGKILLed parent`, true);

      // only these leave a name behind; tcp, udp and nats ports, msgq keys (the child removes
      // the queue, checked below) and pairs have none to reclaim
      if (/^(unix|fifo|shm):/.test(address)) {
        // a named address (unix, fifo, shm://name): SIGKILL ran no cleanup, so the dead
        // listener's name is still there (the socket file or request fifo in its dir, the shm
        // record in /dev/shm), and this listen() really reclaims it
        const named = readdirSync(tmp).flatMap((d) => readdirSync(join(tmp, d)));
        expect([...named, ...devShmOf([parent.pid!])], 'the dead listener left its name').to.not.deep.equal([]);
        const l = await listen(address, (link) => void link.close());
        await l.close();
      }
      // the bench's own dir inside tmp: the dead parent made it; it must hold nothing now
      for (const d of readdirSync(tmp)) {
        expect(readdirSync(join(tmp, d)), `left in ${d} by the ${label} parent and child`).to.deep.equal([]);
        rmdirSync(join(tmp, d));
      }
      expect(sysvOf([parent.pid!, childPid]), 'msgq: the child removed its dead listener queue').to.deep.equal([]);
      expectNothingLeft(`after the ${label} parent's SIGKILL`, [parent.pid!, childPid], tmp);
    });
  }
});
