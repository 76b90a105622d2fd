/**
 * shm-rendezvous.ts: `shm://name`, shm links between unrelated processes of the same user.
 *
 * The listener publishes a small record, the POSIX shm object `/switchyard.NAME` (mode 0600,
 * so only its user can read it), holding its pid and a random 128-bit token. The token names
 * a Linux abstract Unix socket, `\0switchyard-shm.TOKEN`: it has no file, so it vanishes with
 * the listener even on SIGKILL, and nobody finds it without reading the 0600 record.
 *
 *   client                                     listener
 *   read /switchyard.NAME -> pid, token
 *   connect \0switchyard-shm.TOKEN  ------->   accept; shm_open /switchyard.NAME.link.PID.N
 *                                               (O_EXCL, 0600), map it as side 0
 *                                   <-------   "/switchyard.NAME.link.PID.N\n"
 *   shm_open it, map as side 1; "k"  ------->   shm_unlink it: both sides are attached
 *
 * From then on the socket carries nothing; it stays open as the liveness channel (EOF =
 * the other side closed or died). A link segment has a name only between those two steps,
 * and is registered with cleanup.ts meanwhile. Crash leftovers are reclaimed by the next
 * listen() of the same name: the record when its token's socket refuses connections, link
 * segments when the pid in their name is dead.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, readdirSync, readSync, writeSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { TransportError } from '../errors.js';
import { native } from '../native.js';
import { badAddress } from './address.js';
import { atExit } from './cleanup.js';
import { handOver } from './hand-over.js';
import { serve, stopServer } from './net-stream.js';
import { capacityOf, shmSettings, type ShmLinkOptions } from './shm-settings.js';
import { ShmLink } from './shm-link.js';
import { resolveLinkOptions } from './stream-link.js';
import type { Link, Listener } from './transport.js';

const NAME = /^[A-Za-z0-9_-]{1,200}$/;
const RECORD_BYTES = 4096;
const SHM_DIR = '/dev/shm';

interface Record {
  v: 1;
  pid: number;
  token: string;
}

function nameOf(url: URL): string {
  let name: string;
  try {
    name = decodeURIComponent(url.host);
  } catch (cause) {
    throw badAddress(url.href, 'the name has a malformed %-escape', cause);
  }
  if (!NAME.test(name) || (url.pathname !== '' && url.pathname !== '/')) {
    throw badAddress(url.href, 'shm: names a listener with 1-200 letters, digits, "_" or "-", e.g. shm://my-app');
  }
  return name;
}

const recordName = (name: string): string => `/switchyard.${name}`;
const linkPrefix = (name: string): string => `switchyard.${name}.link.`;
const socketPath = (token: string): string => `\0switchyard-shm.${token}`;

function readRecord(name: string, href: string): Record | null {
  let fd: number;
  try {
    fd = native.shmOpen(recordName(name), 0);
  } catch (err) {
    if ((err as TransportError).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const buf = Buffer.alloc(RECORD_BYTES);
    const n = readSync(fd, buf, 0, RECORD_BYTES, 0);
    const end = buf.indexOf(0);
    const text = buf.subarray(0, end < 0 ? n : Math.min(end, n)).toString('utf8');
    if (text === '') return { v: 1, pid: 0, token: '' }; // being written right now
    const r = JSON.parse(text) as Record;
    if (r.v !== 1 || !Number.isInteger(r.pid) || !/^[0-9a-f]{32}$/.test(r.token)) throw new Error('bad record');
    return r;
  } catch (cause) {
    throw new TransportError('ERR_SHM_BAD_SEGMENT', `shm: ${recordName(name)} is not a switchyard listener record (${href})`, { address: href, cause });
  } finally {
    closeSync(fd);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function answers(token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection({ path: socketPath(token) });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => {
      probe.destroy();
      resolve(false);
    });
  });
}

/** Removes link segments of `name` whose creator is dead (crash leftovers). */
function reclaimLinks(name: string): void {
  const prefix = linkPrefix(name);
  let entries: string[];
  try {
    entries = readdirSync(SHM_DIR);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const pid = Number(e.slice(prefix.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && !pidAlive(pid)) native.shmUnlink(`/${e}`);
  }
}

/** Creates the listener record, reclaiming a stale one once. */
async function createRecord(name: string, record: Record, href: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = native.shmOpen(recordName(name), RECORD_BYTES);
      writeSync(fd, Buffer.from(JSON.stringify(record)), 0, undefined, 0);
      return fd;
    } catch (err) {
      if ((err as TransportError).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const old = readRecord(name, href);
    if (old && old.token !== '' && pidAlive(old.pid) && (await answers(old.token))) {
      throw new TransportError('EADDRINUSE', `listen ${href}: process ${old.pid} is listening on this name`, { address: href, syscall: 'shm_open', errno: 98 });
    }
    native.shmUnlink(recordName(name));
  }
}

export async function shmListen(address: URL, onLink: (link: Link) => void, options?: ShmLinkOptions): Promise<Listener> {
  const resolved = resolveLinkOptions(options);
  const name = nameOf(address);
  const settings = shmSettings(address, options);
  const href = `shm://${name}`;
  reclaimLinks(name);
  const record: Record = { v: 1, pid: process.pid, token: randomBytes(16).toString('hex') };
  const bytes = settings.ringSize * 2 + native.shmLayout.headerBytes;
  let n = 0;
  const handshakes = new Set<() => void>();

  const accept = (socket: Socket): void => {
    const segName = `/${linkPrefix(name)}${process.pid}.${++n}`;
    let fd: number;
    try {
      fd = native.shmOpen(segName, bytes);
    } catch {
      socket.destroy();
      return;
    }
    let named = true;
    const unlink = (): void => {
      if (!named) return;
      named = false;
      forget();
      handshakes.delete(unlink);
      native.shmUnlink(segName);
    };
    const forget = atExit(unlink);
    handshakes.add(unlink);
    let link: ShmLink;
    try {
      link = new ShmLink({ remote: `${href}#${n}`, options: resolved, fd, side: 0, capacity: settings.ringSize, spinNs: settings.spinNs, liveness: socket });
    } catch {
      unlink();
      socket.destroy();
      return;
    } finally {
      closeSync(fd);
    }
    const timer = setTimeout(() => void link.close(), resolved.timeoutMs);
    const onAck = (): void => {
      clearTimeout(timer);
      unlink();
      handOver(onLink, link);
    };
    socket.once('data', onAck);
    void link.closed.then(() => {
      clearTimeout(timer);
      socket.off('data', onAck);
      unlink();
    });
    socket.write(`${segName}\n`);
  };

  const server = await serve((s) => s.listen({ path: socketPath(record.token) }), href, accept);
  let recordFd: number;
  try {
    recordFd = await createRecord(name, record, href);
  } catch (err) {
    await stopServer(server);
    throw err;
  }
  closeSync(recordFd);
  const removeRecord = (): void => {
    // Only our own record: a newer listener may have reclaimed the name after a stall.
    try {
      if (readRecord(name, href)?.token === record.token) native.shmUnlink(recordName(name));
    } catch {
      // gone, or not ours
    }
  };
  const forgetRecord = atExit(removeRecord);
  let closing: Promise<void> | undefined;
  return {
    address: new URL(href),
    close() {
      closing ??= stopServer(server).then(() => {
        removeRecord();
        forgetRecord();
        for (const u of [...handshakes]) u();
      });
      return closing;
    },
  };
}

export async function shmConnect(address: URL, options?: ShmLinkOptions): Promise<Link> {
  const resolved = resolveLinkOptions(options);
  const name = nameOf(address);
  const { spinNs } = shmSettings(address, options);
  const href = address.href;
  const deadline = Date.now() + resolved.timeoutMs;
  let record = readRecord(name, href);
  while (record !== null && record.token === '' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    record = readRecord(name, href);
  }
  if (record === null || record.token === '') {
    throw new TransportError('ECONNREFUSED', `connect ${href}: no shm listener named "${name}" (${recordName(name)} does not exist)`, { address: href, syscall: 'shm_open', errno: 111 });
  }
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection({ path: socketPath(record.token), allowHalfOpen: false });
    const timer = setTimeout(() => fail(new TransportError('ETIMEDOUT', `connect ${href} timed out after ${resolved.timeoutMs} ms`, { address: href, syscall: 'connect' })), Math.max(1, deadline - Date.now()));
    function fail(e: Error): void {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    }
    s.once('error', (err: NodeJS.ErrnoException) =>
      fail(err.code === 'ECONNREFUSED'
        ? new TransportError('ECONNREFUSED', `connect ${href}: the listener (pid ${record.pid}) is gone; its record is stale`, { address: href, syscall: 'connect', errno: 111, cause: err })
        : TransportError.fromNode(err, href)),
    );
    let line = '';
    const onData = (chunk: Buffer): void => {
      line += chunk.toString('utf8');
      if (line.length > 512) return fail(new TransportError('ERR_SHM_HANDSHAKE', `connect ${href}: the listener sent a bad handshake`, { address: href }));
      if (!line.endsWith('\n')) return;
      clearTimeout(timer);
      s.off('data', onData);
      s.removeAllListeners('error');
      s.removeAllListeners('close');
      (s as Socket & { segment?: string }).segment = line.slice(0, -1);
      resolve(s);
    };
    s.on('data', onData);
    s.once('close', () => fail(new TransportError('ECONNRESET', `connect ${href}: the listener closed the connection during the handshake`, { address: href, errno: 104 })));
  });
  const segName = (socket as Socket & { segment?: string }).segment!;
  if (!segName.startsWith(`/${linkPrefix(name)}`) || segName.includes('/', 1)) {
    socket.destroy();
    throw new TransportError('ERR_SHM_HANDSHAKE', `connect ${href}: the listener named an unexpected segment`, { address: href });
  }
  let fd: number;
  try {
    fd = native.shmOpen(segName, 0);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  try {
    if (fstatSync(fd).uid !== process.getuid!()) {
      throw new TransportError('ERR_SHM_BAD_SEGMENT', `connect ${href}: ${segName} belongs to another user`, { address: href });
    }
    const capacity = capacityOf(fd, href);
    const link = new ShmLink({ remote: href, options: resolved, fd, side: 1, capacity, spinNs, liveness: socket });
    socket.write('k');
    return link;
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    closeSync(fd);
  }
}
