/**
 * shm-rendezvous.ts: `shm://name`, shm links between unrelated processes of the same user.
 *
 * The listener publishes a record, `/switchyard.NAME` (shm-record.ts: mode 0600, locked by
 * the listener while it lives), holding its pid and a random 128-bit token. The token names
 * a Linux abstract Unix socket, `\0switchyard-shm.TOKEN`: it has no file, so it vanishes with
 * the listener even on SIGKILL. The token is not a secret (every user can list abstract
 * socket names in /proc/net/unix) and guards nothing: SO_PEERCRED does, on both ends.
 *
 *   client                                     listener
 *   read /switchyard.NAME -> pid, token
 *   connect \0switchyard-shm.TOKEN  ------->   accept; SO_PEERCRED: the client's uid must be
 *                                               our euid, else close (nothing is made);
 *                                               memfd sealed against resize, map as side 0
 *                                   <-------   1 byte 0x01 + SCM_RIGHTS [the memfd]
 *   SO_PEERCRED: uid = our euid, pid = the
 *   record's; the fd: a regular file, sealed
 *   (shrink+grow), sized for rings; map as
 *   side 1, close the fd; 1 byte "k" ------->   hand the link to onLink
 *
 * The client reads the socket natively (native/fd_passing.cc, on a pool thread, bounded by
 * the connect timeout) until the fd arrived, because a plain read of the byte would make the
 * kernel drop the fd; only then does a net.Socket take the socket over. From then on the
 * socket carries nothing; it stays open as the liveness channel (EOF = the other side closed
 * or died). At most MAX_PENDING_HANDSHAKES clients may sit between accept and "k" (each
 * holds a mapping and a waiter thread); more are dropped at accept. listener.close() ends
 * those in flight: no link reaches onLink after it. No link segment ever has a name: nothing of a link appears in /dev/shm, and a
 * peer cannot resize a segment under the other's mapping (that would be SIGBUS). A record
 * left by a dead listener is reclaimed by the next listen() of its name (shm-record.ts).
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { TransportError } from '../../errors.js';
import { native, type PeerCred, type ReceivedFd } from '../../native.js';
import { badAddress } from '../core/address.js';
import { removeNowOrAtExit } from '../core/cleanup.js';
import { handOver } from '../core/hand-over.js';
import { fdOf } from '../core/socket-fd.js';
import { serve, stopServer } from '../stream/net-stream.js';
import { capacityOf, shmSettings, type ShmLinkOptions } from './settings.js';
import { ShmLink } from './link.js';
import { claimRecord, readRecord, recordName, RECORD_VERSION, type ListenerRecord } from './record.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, Listener } from '../core/transport.js';

const NAME = /^[A-Za-z0-9_-]{1,200}$/;
/** The byte that carries the segment fd (version 1 of the handshake). */
export const SEGMENT_BYTE = 0x01;
/** The client's answer once it has mapped the segment. */
const ACK = 'k';
/**
 * Handshakes a listener carries at once. Each holds a mapped segment and a waiter thread
 * until the client acknowledges: a client (of our own uid) that opens connections and never
 * answers must run into this, not into the process's thread limit.
 */
export const MAX_PENDING_HANDSHAKES = 64;
/** How long the listener waits before trying a full socket again (it never is, in practice). */
const SEND_RETRY_MS = 5;

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

export const socketPath = (token: string): string => `\0switchyard-shm.${token}`;

/** Listener side: why a connecting peer gets no link, or null if it may have one. */
export function refusal(peer: PeerCred, euid: number): string | null {
  return peer.uid === euid ? null : `its uid ${peer.uid} is not ours (${euid})`;
}

/**
 * Client side: throws ERR_SHM_PEER unless the process behind the socket runs as our euid and
 * is the one the record names (someone else of our uid could have bound the token's socket
 * only by reading the record, but then it is not the record's pid).
 */
export function checkListener(peer: PeerCred, record: Pick<ListenerRecord, 'pid'>, euid: number, href: string): void {
  const why =
    peer.uid !== euid ? `runs as uid ${peer.uid}, not as ours (${euid})`
    : peer.pid !== record.pid ? `is pid ${peer.pid}, not pid ${record.pid} of the listener record`
    : null;
  if (why !== null) throw new TransportError('ERR_SHM_PEER', `connect ${href}: the process behind the listener's socket ${why}`, { address: href });
}

/**
 * Throws ERR_SHM_BAD_SEGMENT unless `fd` is a regular file of ours, sealed against shrinking
 * and growing (so nobody can turn our mapping into SIGBUS), sized for rings; returns the
 * ring capacity.
 */
export function checkSegment(fd: number, euid: number, href: string): number {
  const st = fstatSync(fd);
  const { shrink, grow } = native.sealFlags;
  const why =
    !st.isFile() ? 'an fd that is not a shared-memory segment'
    : st.uid !== euid ? `a segment of uid ${st.uid}`
    : (native.fdSeals(fd) & (shrink | grow)) !== (shrink | grow) ? 'a segment that is not sealed against resizing'
    : null;
  if (why !== null) throw new TransportError('ERR_SHM_BAD_SEGMENT', `connect ${href}: the listener passed ${why}`, { address: href });
  return capacityOf(fd, href);
}

export async function shmListen(address: URL, onLink: (link: Link) => void, options?: ShmLinkOptions): Promise<Listener> {
  const resolved = resolveLinkOptions(options);
  const name = nameOf(address);
  const settings = shmSettings(address, options);
  const href = `shm://${name}`;
  const record: ListenerRecord = { v: RECORD_VERSION, pid: process.pid, token: randomBytes(16).toString('hex') };
  const bytes = settings.ringSize * 2 + native.shmLayout.headerBytes;
  let n = 0;
  /** Links handed to a client and not yet acknowledged; listener.close() ends them. */
  const pending = new Set<ShmLink>();
  let stopped = false;

  const accept = (socket: Socket): void => {
    const id = ++n;
    if (stopped || pending.size >= MAX_PENDING_HANDSHAKES) {
      socket.destroy();
      return;
    }
    let segment: number;
    try {
      if (refusal(native.peerCred(fdOf(socket)), process.geteuid!()) !== null) throw new Error('refused');
      segment = native.shmMemfd(bytes);
    } catch {
      socket.destroy();
      return;
    }
    let link: ShmLink;
    try {
      link = new ShmLink({ remote: `${href}#${id}`, options: resolved, fd: segment, side: 0, capacity: settings.ringSize, spinNs: settings.spinNs, liveness: socket });
    } catch {
      closeSync(segment);
      socket.destroy();
      return;
    }
    // Kept until the kernel has it in flight (then the client's copy keeps the memory).
    const dropSegment = (): void => {
      if (segment < 0) return;
      closeSync(segment);
      segment = -1;
    };
    const timer = setTimeout(() => void link.close(), resolved.timeoutMs);
    let retry: NodeJS.Timeout | undefined;
    pending.add(link);
    const onAck = (data: Buffer): void => {
      clearTimeout(timer);
      pending.delete(link);
      // Anything but the one ack byte is not a switchyard client.
      if (data.length !== 1 || data.toString('latin1') !== ACK || stopped) void link.close();
      else handOver(onLink, link);
    };
    socket.once('data', onAck);
    void link.closed.then(() => {
      pending.delete(link);
      clearTimeout(timer);
      clearTimeout(retry);
      socket.off('data', onAck);
      dropSegment();
    });
    const send = (): void => {
      // A destroyed socket's fd number may already belong to something else: never send then.
      const fd = socket.destroyed ? -1 : fdOf(socket);
      if (segment < 0 || fd < 0) return dropSegment();
      try {
        if (!native.sendFd(fd, segment, SEGMENT_BYTE)) {
          retry = setTimeout(send, SEND_RETRY_MS); // bounded by the handshake timer
          return;
        }
      } catch {
        void link.close();
        return;
      }
      dropSegment();
    };
    send();
  };

  const claim = claimRecord(name, href);
  const releaseClaim = removeNowOrAtExit(() => claim.release());
  let server;
  try {
    // Bound natively: Node 20 pads abstract names to the whole sun_path (see native/fd.cc).
    const listening = native.listenUnix(socketPath(record.token), 511);
    server = await serve((s) => s.listen({ fd: listening }), href, accept);
    claim.publish(record);
  } catch (err) {
    if (server) await stopServer(server);
    releaseClaim();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    address: new URL(href),
    close() {
      stopped = true;
      // Handshakes in flight end with the listener: none reaches onLink after close().
      closing ??= Promise.all([stopServer(server), ...[...pending].map((l) => l.close())]).then(releaseClaim);
      return closing;
    },
  };
}

/** Connects to the token's socket and waits for the segment fd, off the JS thread. */
function dialForSegment(token: string, timeoutMs: number): Promise<ReceivedFd> {
  return new Promise((resolve, reject) => {
    native.connectReceiveFd(socketPath(token), Math.max(1, timeoutMs), (error, received) => (error ? reject(error) : resolve(received!)));
  });
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
  let received: ReceivedFd;
  try {
    received = await dialForSegment(record.token, deadline - Date.now());
  } catch (err) {
    const code = (err as TransportError).code;
    if (code === 'ECONNREFUSED') {
      throw new TransportError('ECONNREFUSED', `connect ${href}: the listener (pid ${record.pid}) is gone; its record is stale`, { address: href, syscall: 'connect', errno: 111, cause: err });
    }
    if (code === 'ETIMEDOUT') {
      throw new TransportError('ETIMEDOUT', `connect ${href} timed out after ${resolved.timeoutMs} ms`, { address: href, syscall: 'connect', errno: 110, cause: err });
    }
    if (code === 'ECONNRESET') {
      throw new TransportError('ECONNRESET', `connect ${href}: the listener closed the connection during the handshake (it refuses peers of another uid)`, { address: href, errno: 104, cause: err });
    }
    throw err;
  }
  const { socket: socketFd, fd, byte } = received;
  let liveness: Socket | undefined;
  try {
    const euid = process.geteuid!();
    checkListener(native.peerCred(socketFd), record, euid, href);
    if (byte !== SEGMENT_BYTE || fd < 0) {
      throw new TransportError('ERR_SHM_HANDSHAKE', `connect ${href}: the listener sent a bad handshake (byte ${byte}, ${fd < 0 ? 'no single fd' : 'an fd'})`, { address: href });
    }
    const capacity = checkSegment(fd, euid, href);
    liveness = new Socket({ fd: socketFd, readable: true, writable: true, allowHalfOpen: false });
    const link = new ShmLink({ remote: href, options: resolved, fd, side: 1, capacity, spinNs, liveness });
    liveness.write(ACK);
    return link;
  } catch (err) {
    if (liveness) liveness.destroy();
    else closeSync(socketFd);
    throw err;
  } finally {
    if (fd >= 0) closeSync(fd); // mapped (or refused): the fd is no longer needed
  }
}
