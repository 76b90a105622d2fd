/**
 * shm-record.ts: the listener record of `shm://NAME`, the POSIX shm object `/switchyard.NAME`
 * (mode 0600) that tells clients which process listens on NAME and under which token.
 *
 * Who owns the name is decided by a lock, not by the content: a listener holds flock(LOCK_EX)
 * on its open record for as long as it listens, and the kernel drops the lock when the
 * process dies, SIGKILL included. So claiming a name is: open (or create) the record, take
 * the lock without waiting (held by someone else: EADDRINUSE), then check the name still
 * names the file we locked (a closing listener unlinks it while it holds the lock; if we
 * locked a file that has since been unlinked, we start over). Whatever an unlocked record
 * says is stale and is overwritten. Of two listens racing for one name, in one process or
 * two, exactly one gets the lock. The owner truncates the record to zeros (clients read that
 * as "being written" and retry), starts its socket, then writes the JSON.
 * Release unlinks the name (it is still ours: nobody can claim it while we hold the lock),
 * then closes the fd, which drops the lock.
 */
import { closeSync, fchmodSync, fstatSync, ftruncateSync, readSync, statSync, writeSync } from 'node:fs';
import { TransportError } from '../../errors.js';
import { native } from '../../native.js';

/** Version 2: the link segment is passed as an fd (SCM_RIGHTS), not named (v1). */
export const RECORD_VERSION = 2;
const RECORD_BYTES = 4096;
const SHM_DIR = '/dev/shm';
/** Claims retried when the name keeps being removed under us; more means something is wrong. */
const MAX_CLAIM_ATTEMPTS = 16;

export interface ListenerRecord {
  v: typeof RECORD_VERSION;
  pid: number;
  token: string;
}

export const recordName = (name: string): string => `/switchyard.${name}`;

/** The record of `name`: null if there is none, token '' while it is being written. */
export function readRecord(name: string, href: string): ListenerRecord | null {
  let fd: number;
  try {
    fd = native.shmOpen(recordName(name), 0);
  } catch (err) {
    if ((err as TransportError).code === 'ENOENT') return null;
    throw err;
  }
  let r: { v?: unknown; pid?: unknown; token?: unknown };
  try {
    const buf = Buffer.alloc(RECORD_BYTES);
    const n = readSync(fd, buf, 0, RECORD_BYTES, 0);
    const end = buf.indexOf(0);
    const text = buf.subarray(0, end < 0 ? n : Math.min(end, n)).toString('utf8');
    if (text === '') return { v: RECORD_VERSION, pid: 0, token: '' };
    r = JSON.parse(text) as typeof r;
  } catch (cause) {
    throw new TransportError('ERR_SHM_BAD_SEGMENT', `shm: ${recordName(name)} is not a switchyard listener record (${href})`, { address: href, cause });
  } finally {
    closeSync(fd);
  }
  if (typeof r.v === 'number' && r.v !== RECORD_VERSION) {
    throw new TransportError('ERR_SHM_HANDSHAKE', `shm: the listener on ${href} speaks rendezvous version ${r.v}, this switchyard speaks ${RECORD_VERSION}`, { address: href });
  }
  if (r.v !== RECORD_VERSION || !Number.isInteger(r.pid) || typeof r.token !== 'string' || !/^[0-9a-f]{32}$/.test(r.token)) {
    throw new TransportError('ERR_SHM_BAD_SEGMENT', `shm: ${recordName(name)} is not a switchyard listener record (${href})`, { address: href });
  }
  return r as ListenerRecord;
}

/** The name's record, locked by this process until release(). */
export interface RecordClaim {
  /** Writes the record (after the socket it names is listening). */
  publish(record: ListenerRecord): void;
  /** Unlinks the name and drops the lock. Idempotent, never throws. */
  release(): void;
}

function sameFile(fd: number, path: string): boolean {
  const mine = fstatSync(fd, { bigint: true });
  try {
    const now = statSync(path, { bigint: true });
    return now.dev === mine.dev && now.ino === mine.ino;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

function inUse(name: string, href: string): TransportError {
  let who = 'another process';
  try {
    const r = readRecord(name, href);
    if (r && r.pid > 0) who = `process ${r.pid}`;
  } catch {
    // the message only
  }
  return new TransportError('EADDRINUSE', `listen ${href}: ${who} is listening on this name`, { address: href, syscall: 'flock', errno: 98 });
}

/** Opens `/switchyard.NAME`, creating it (0600) if absent. */
function openRecord(name: string): number | null {
  try {
    return native.shmOpen(recordName(name), RECORD_BYTES);
  } catch (err) {
    if ((err as TransportError).code !== 'EEXIST') throw err;
  }
  try {
    return native.shmOpen(recordName(name), 0);
  } catch (err) {
    if ((err as TransportError).code === 'ENOENT') return null; // removed meanwhile: start over
    throw err;
  }
}

/**
 * Claims `name` for this process: synchronous, never waits. Throws EADDRINUSE if a live
 * listener holds it. The record reads as "being written" until publish().
 */
export function claimRecord(name: string, href: string): RecordClaim {
  const path = `${SHM_DIR}${recordName(name)}`;
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const fd = openRecord(name);
    if (fd === null) continue;
    try {
      if (!native.lockExclusive(fd)) throw inUse(name, href);
      if (!sameFile(fd, path)) {
        closeSync(fd); // a listener removed it after we opened it; the name may be free now
        continue;
      }
      if (fstatSync(fd).uid !== process.geteuid!()) {
        throw new TransportError('EACCES', `listen ${href}: ${recordName(name)} belongs to another user`, { address: href, syscall: 'shm_open', errno: 13 });
      }
      fchmodSync(fd, 0o600);
      ftruncateSync(fd, 0); // whatever a dead listener wrote goes; zeros read as "being written"
      ftruncateSync(fd, RECORD_BYTES);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return held(fd, path);
  }
  throw new TransportError('EAGAIN', `listen ${href}: ${recordName(name)} kept being removed while claiming it`, { address: href, syscall: 'shm_open', errno: 11 });
}

function held(fd: number, path: string): RecordClaim {
  let open = true;
  return {
    publish(record) {
      writeSync(fd, Buffer.from(JSON.stringify(record)), 0, undefined, 0);
    },
    release() {
      if (!open) return;
      open = false;
      try {
        // Ours while we hold the lock, unless someone removed it by hand.
        if (sameFile(fd, path)) native.shmUnlink(path.slice(SHM_DIR.length));
      } catch {
        // gone already
      } finally {
        closeSync(fd);
      }
    },
  };
}
