/**
 * msgq.ts: `msgq://KEY`, a SysV message queue (perlipc "SysV IPC"), one queue per listener,
 * shared by every connection, with `mtype` telling the messages apart (docs/PROTOCOL.md §6).
 *
 *   mtype 1                  requests (HELLO, then ACK) to the listener
 *   mtype 2k, 2k+1 (k >= 1)  connection k: client -> listener ("up"), listener -> client ("down")
 *   mtype 2^30 .. 2^31-2     a client's private reply type during the handshake (random)
 *   mtype 2^31-1             the owner record: the listener's pid and start time
 *
 * Owns: the queue (listener: created 0600 with IPC_CREAT|IPC_EXCL, removed with IPC_RMID once
 * the listener and all its links are closed, at exit and on SIGINT/SIGTERM via cleanup.ts),
 * and one native receive thread per mtype this process reads (native/msg_queue.cc). A single
 * thread cannot wait for a set of mtypes (msgrcv matches one type, or "lowest up to N"), so
 * each link has its own; an idle one blocks in the kernel and costs nothing.
 *
 * Invariants:
 * - A handshake costs the listener no thread until the client's ACK: HELLO -> WELCOME leaves
 *   only a capped (64), expiring entry; a HELLO must name a live pid (never 0).
 * - Flow control is DatagramLink's credit: every receive thread always reads, so one paused
 *   link never fills the shared queue (its byte budget is msgmnb, 16 KiB by default) for the
 *   others; its datagrams wait in this process instead, bounded by the credit window.
 * - Owner gone = the owner record's pid does not exist, or exists with another start time
 *   (a reused pid). A queue without an owner record is not ours and is never removed.
 * - Peer death is found by probing the peer's pid (kill 0) every 200 ms; the queue's removal
 *   wakes receive threads with EIDRM, which is peer-gone too. After a peer is gone, the
 *   survivor purges both mtypes of the link, and a client whose listener died removes the
 *   queue (nobody else would), so a SIGKILL on either side leaves nothing once the survivor closes.
 */
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { TransportError } from '../../errors.js';
import { native, type MsgReceiver } from '../../native.js';
import { badAddress } from '../core/address.js';
import { removeNowOrAtExit } from '../core/cleanup.js';
import { DatagramLink, KIND_BYE, MIN_DATAGRAM, type DatagramPort } from './datagram-link.js';
import { KIND_HELLO, KIND_WELCOME } from './handshake-kinds.js';
import { handOver } from '../core/hand-over.js';
import { pidAlive } from '../core/pid-alive.js';
import { resolveLinkOptions, type ResolvedLinkOptions } from '../core/options.js';
import type { CloseKind, Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: false } as const;
const MODE = 0o600;
/** 2: the client confirms a WELCOME with an ACK before the listener spends a thread on it. */
const VERSION = 2;
const MTYPE_REQUEST = 1;
const MTYPE_REPLY_MIN = 2 ** 30;
const MTYPE_OWNER = 2 ** 31 - 1;
/** Connections per listener before mtypes would enter the reply range. */
const MAX_CONNECTIONS = MTYPE_REPLY_MIN / 2 - 1;
const KIND_REJECT = 0x12;
const KIND_OWNER = 0x13;
const KIND_ACK = 0x14;
/** Handshakes a listener holds (WELCOME sent, ACK awaited) before it refuses new HELLOs. */
export const MAX_PENDING_HANDSHAKES = 64;
/** Linux's largest pid_max: a HELLO naming a pid outside 1 .. this is refused. */
const PID_MAX = 4_194_304;
/** DATA datagrams in flight per direction per link: bounds what a paused reader holds. */
export const WINDOW = 256;
const PROBE_MS = 200;
/** How long a closed link keeps reading its mtype for the peer's BYE before purging. */
const SETTLE_MS = 2000;
/** How long the slow send path may wait for room before reporting back. */
const SEND_WAIT_MS = 100;
const MAX_KEY = 0x7fff_ffff;

/** The system's limits, read once at runtime: largest message, and a queue's byte budget. */
export interface MsgqLimits {
  msgmax: number;
  msgmnb: number;
}
let limitsCache: MsgqLimits | undefined;
export function msgqLimits(): MsgqLimits {
  const read = (name: string, fallback: number): number => {
    try {
      const n = Number(readFileSync(`/proc/sys/kernel/${name}`, 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : fallback;
    } catch {
      return fallback; // not Linux procfs: the historic defaults
    }
  };
  limitsCache ??= { msgmax: read('msgmax', 8192), msgmnb: read('msgmnb', 16384) };
  return limitsCache;
}

/** The key of `msgq://KEY` (decimal or 0x-hex, 1 .. 2^31-1; 0 = any free key, listen only). */
function keyOf(url: URL, forListen: boolean): number {
  if (url.pathname !== '' && url.pathname !== '/') throw badAddress(url.href, 'msgq: takes a key, e.g. msgq://0x5359 or msgq://1234, and no path');
  const text = url.hostname;
  if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(text)) throw badAddress(url.href, 'msgq: needs a numeric key, decimal or 0x-hex, e.g. msgq://0x5359');
  const key = Number(text);
  if (key > MAX_KEY) throw badAddress(url.href, `msgq: a key is at most 0x7fffffff (${MAX_KEY})`);
  if (key === 0 && !forListen) throw badAddress(url.href, 'msgq: cannot connect to key 0; name the key the listener reported');
  return key;
}

/** The start time of `pid` (clock ticks since boot, /proc/PID/stat field 22), or null if it does not exist. */
function startTimeOf(pid: number): bigint | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return BigInt(fields[19]!); // field 22 overall; fields[0] is field 3
  } catch {
    return null;
  }
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Removes every message of `mtype` (a link's leftovers). Never throws. */
function purge(msqid: number, mtype: number, maxSize: number): void {
  try {
    while (native.msgrcvNoWait(msqid, mtype, maxSize) !== null) {}
  } catch {
    // The queue is gone: nothing left to purge.
  }
}

/** Sends one message now, or from the pool while the queue is full (bounded by SEND_WAIT_MS). */
function sendOne(msqid: number, mtype: number, message: Buffer): Promise<void> {
  if (native.msgsndBatch(msqid, mtype, [message], 0) === 1) return Promise.resolve();
  return new Promise((resolve, reject) =>
    native.msgsndAsync(msqid, mtype, [message], 0, SEND_WAIT_MS * 20, (error, sent) => {
      if (error) reject(error);
      else if (sent === 1) resolve();
      else reject(new TransportError('EAGAIN', `msgq: the queue stayed full for ${SEND_WAIT_MS * 20} ms`, { syscall: 'msgsnd' }));
    }),
  );
}

/** One message, only if the queue has room now (never a pool thread: see sendSoon). */
function sendNow(msqid: number, mtype: number, message: Buffer): boolean {
  try {
    return native.msgsndBatch(msqid, mtype, [message], 0) === 1;
  } catch {
    return false;
  }
}

/**
 * One message, retried from JS timers while the queue is full, until `deadline`: a handshake
 * reply must not hold a libuv pool thread (64 of them waiting would starve the process's fs).
 */
async function sendSoon(msqid: number, mtype: number, message: Buffer, deadline: number, cancelled: () => boolean): Promise<boolean> {
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    if (cancelled()) return false;
    if (sendNow(msqid, mtype, message)) return true;
    if (Date.now() + delay > deadline) return false;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A pid a HELLO may name: a live process (kill(0) succeeds or says EPERM); never 0, which kill() reads as "my group". */
function validPeerPid(pid: number): boolean {
  return pid >= 1 && pid <= PID_MAX && pidAlive(pid);
}

/** A receive thread on one mtype, splitting its batches into messages. */
class Receiver {
  private readonly native: MsgReceiver;
  private stopping = false;
  readonly ended: Promise<number>;

  constructor(msqid: number, mtype: number, maxSize: number, onMessage: (m: Buffer) => void) {
    let resolveEnded!: (errno: number) => void;
    this.ended = new Promise((r) => (resolveEnded = r));
    this.native = new native.MsgReceiver(
      msqid,
      mtype,
      maxSize,
      (batch) => {
        for (let at = 0; at + 4 <= batch.length; ) {
          const len = batch.readUInt32LE(at); // host order; every Linux target Node runs on here is little-endian
          const m = batch.subarray(at + 4, at + 4 + len);
          at += 4 + len;
          if (!this.stopping) onMessage(m);
        }
      },
      (errno) => resolveEnded(errno),
    );
  }

  /** Stops the thread; resolves with the errno it ended with (0 when stopped). */
  stop(): Promise<number> {
    this.stopping = true;
    const tryStop = (): void => {
      if (!this.native.stop()) setTimeout(tryStop, 5); // queue full for a moment
    };
    tryStop();
    return this.ended;
  }
}

interface EndpointInit {
  msqid: number;
  address: string;
  maxDatagram: number;
  rx: number;
  tx: number;
  peerPid: number;
  peerWindow: number;
  options: ResolvedLinkOptions;
  /** Called after the link's port is released (listener bookkeeping, or removing a dead listener's queue). */
  onReleased: (peerGone: boolean) => void;
}

/** One connection's end: a DatagramLink over mtypes rx/tx of the queue. */
function openEndpoint(init: EndpointInit): DatagramLink {
  const { msqid, rx, tx } = init;
  let byeAfterClose = false;
  let done = false;
  const port: DatagramPort = {
    trySend: (datagrams, start) => native.msgsndBatch(msqid, tx, datagrams as Buffer[], start),
    sendLater: (datagrams, start, cb) => native.msgsndAsync(msqid, tx, datagrams as Buffer[], start, SEND_WAIT_MS, cb),
    release: async (kind: CloseKind) => {
      done = true;
      const peerGone = kind === 'peer-gone' && !link.peerSaidBye;
      // Unless the peer is gone or has said BYE, it may still be sending: keep reading (and
      // dropping) until its BYE, so nothing it sent stays in the shared queue.
      if (!peerGone && !link.peerSaidBye) {
        const deadline = Date.now() + SETTLE_MS;
        while (!byeAfterClose && pidAlive(init.peerPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      }
      await receiver.stop();
      purge(msqid, rx, init.maxDatagram);
      purge(msqid, tx, init.maxDatagram);
      init.onReleased(peerGone || !pidAlive(init.peerPid));
    },
  };
  const receiver = new Receiver(msqid, rx, init.maxDatagram, (m) => {
    if (done) {
      if (m[0] === KIND_BYE) byeAfterClose = true;
      return;
    }
    link.receive(m);
  });
  void receiver.ended.then((errno) => {
    if (done || errno === 0) return;
    if (errno === 22 /* EINVAL */ || errno === 43 /* EIDRM */) link.peerGone();
    else link.fail(TransportError.fromErrno(errno, 'msgrcv', init.address));
  });
  const link: DatagramLink = new DatagramLink({
    scheme: 'msgq',
    remote: `${init.address}#${rx}`,
    capabilities,
    options: init.options,
    port,
    maxDatagram: init.maxDatagram,
    window: WINDOW,
    peerWindow: init.peerWindow,
    isPeerAlive: () => pidAlive(init.peerPid),
    probeMs: PROBE_MS,
  });
  return link;
}

/** Creates the queue for a listener, reclaiming one whose owner is gone. */
function createQueue(key: number, address: string): number {
  try {
    return native.msgget(key, true, MODE);
  } catch (err) {
    if (errnoOf(err) !== 'EEXIST') throw TransportError.fromNode(err, address);
  }
  const { msgmax } = msgqLimits();
  let id: number;
  let record: Buffer | null;
  try {
    id = native.msgget(key, false, 0);
    record = native.msgrcvNoWait(id, MTYPE_OWNER, msgmax);
  } catch (err) {
    throw TransportError.fromNode(err, address);
  }
  if (record === null || record.length < 13 || record[0] !== KIND_OWNER) {
    throw new TransportError('EEXIST', `listen ${address}: a message queue with this key exists and has no switchyard owner record; not touching it`, {
      address,
      syscall: 'msgget',
      errno: 17,
    });
  }
  const pid = record.readUInt32BE(1);
  const started = record.readBigUInt64BE(5);
  if (startTimeOf(pid) === started) {
    native.msgsndBatch(id, MTYPE_OWNER, [record], 0); // put it back for the owner
    throw new TransportError('EADDRINUSE', `listen ${address}: pid ${pid} is listening on this queue`, { address, syscall: 'msgget', errno: 98 });
  }
  try {
    native.msgRemove(id); // stale: its owner is gone
    return native.msgget(key, true, MODE);
  } catch (err) {
    throw TransportError.fromNode(err, address);
  }
}

function ownerRecord(): Buffer {
  const r = Buffer.alloc(13);
  r[0] = KIND_OWNER;
  r.writeUInt32BE(process.pid, 1);
  r.writeBigUInt64BE(startTimeOf(process.pid) ?? 0n, 5);
  return r;
}

export const msgqTransport: Transport = {
  scheme: 'msgq',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    let key = keyOf(address, true);
    const { msgmax } = msgqLimits();
    if (msgmax < MIN_DATAGRAM + 16) throw new TransportError('ERR_UNSUPPORTED', `msgq: kernel.msgmax is ${msgmax}, too small for a fragment`);
    let msqid: number | undefined;
    if (key === 0) {
      for (let attempt = 0; msqid === undefined; attempt++) {
        key = randomInt(0x1000_0000, MAX_KEY);
        try {
          msqid = native.msgget(key, true, MODE);
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST' || attempt > 32) throw TransportError.fromNode(err, address.href);
        }
      }
    } else {
      msqid = createQueue(key, address.href);
    }
    const id = msqid;
    const href = `msgq://${key}`;
    const removeQueue = removeNowOrAtExit(() => {
      try {
        native.msgRemove(id);
      } catch {
        // Already gone.
      }
    });
    try {
      native.msgsndBatch(id, MTYPE_OWNER, [ownerRecord()], 0);
    } catch (err) {
      removeQueue();
      throw TransportError.fromNode(err, href);
    }

    const links = new Set<DatagramLink>();
    let closing = false;
    let nextConnection = 1;
    const maybeRemove = (): void => {
      if (closing && links.size === 0) removeQueue();
    };

    /**
     * Handshakes in flight: a WELCOME went out, the client's ACK has not come. They cost no
     * thread (the link's receive thread starts at the ACK), are capped, and expire after
     * timeoutMs (or when the client's pid goes), taking their WELCOME and any early data out
     * of the queue with them.
     */
    interface Pending {
      k: number;
      pid: number;
      reply: number;
      peerWindow: number;
      expires: number;
    }
    const pending = new Map<number, Pending>();
    /** Reply types a REJECT went to: purged once the client had its chance to read it. */
    const rejected: Array<{ reply: number; expires: number }> = [];
    let sweeper: NodeJS.Timeout | undefined;
    const startSweeper = (): void => {
      sweeper ??= setInterval(sweep, Math.max(10, Math.min(250, resolved.timeoutMs / 2)));
      sweeper.unref();
    };
    const dropPending = (p: Pending): void => {
      pending.delete(p.k);
      purge(id, p.reply, msgmax);
      purge(id, 2 * p.k, msgmax);
      purge(id, 2 * p.k + 1, msgmax);
    };
    const sweep = (): void => {
      const now = Date.now();
      for (const p of [...pending.values()]) if (now > p.expires || !pidAlive(p.pid)) dropPending(p);
      while (rejected.length > 0 && rejected[0]!.expires < now) purge(id, rejected.shift()!.reply, msgmax);
      if (pending.size === 0 && rejected.length === 0 && sweeper) {
        clearInterval(sweeper);
        sweeper = undefined;
      }
    };
    const reject = (reply: number, why: string): void => {
      // Best effort, and bounded: past that many unread REJECTs, a client just times out.
      if (rejected.length >= MAX_PENDING_HANDSHAKES * 16) return;
      if (sendNow(id, reply, Buffer.concat([Buffer.from([KIND_REJECT]), Buffer.from(why)]))) {
        rejected.push({ reply, expires: Date.now() + resolved.timeoutMs });
        startSweeper();
      }
    };

    const onHello = (m: Buffer): void => {
      if (m.length < 14) return; // not a HELLO: nobody to answer
      const version = m[1]!;
      const pid = m.readUInt32BE(2);
      const reply = m.readUInt32BE(6);
      const peerWindow = m.readUInt32BE(10);
      if (reply < MTYPE_REPLY_MIN || reply >= MTYPE_OWNER) return;
      if (version !== VERSION) return reject(reply, `unsupported version ${version}`);
      if (peerWindow < 1 || !validPeerPid(pid)) return reject(reply, 'bad HELLO');
      if (pending.size >= MAX_PENDING_HANDSHAKES) return reject(reply, `busy: ${MAX_PENDING_HANDSHAKES} handshakes in flight`);
      if (nextConnection > MAX_CONNECTIONS) return reject(reply, 'no connection numbers left');
      const k = nextConnection++;
      const p: Pending = { k, pid, reply, peerWindow, expires: Date.now() + resolved.timeoutMs };
      pending.set(k, p);
      startSweeper();
      const welcome = Buffer.alloc(18);
      welcome[0] = KIND_WELCOME;
      welcome[1] = VERSION;
      welcome.writeUInt32BE(process.pid, 2);
      welcome.writeUInt32BE(2 * k, 6);
      welcome.writeUInt32BE(2 * k + 1, 10);
      welcome.writeUInt32BE(WINDOW, 14);
      void sendSoon(id, reply, welcome, p.expires, () => pending.get(k) !== p).then((sent) => {
        if (!sent && pending.get(k) === p) dropPending(p);
      });
    };

    const onAck = (m: Buffer): void => {
      if (m.length < 10 || m[1] !== VERSION) return;
      const pid = m.readUInt32BE(2);
      const up = m.readUInt32BE(6);
      const p = pending.get(up / 2);
      if (!p || p.pid !== pid) return; // not a handshake of ours (expired, or another pid's)
      pending.delete(p.k);
      const link = openEndpoint({
        msqid: id,
        address: href,
        maxDatagram: msgmax,
        rx: 2 * p.k,
        tx: 2 * p.k + 1,
        peerPid: p.pid,
        peerWindow: p.peerWindow,
        options: resolved,
        onReleased: () => {
          links.delete(link);
          maybeRemove();
        },
      });
      links.add(link);
      handOver(onLink, link);
    };

    const requests = new Receiver(id, MTYPE_REQUEST, msgmax, (m) => {
      if (closing || m.length === 0) return;
      if (m[0] === KIND_HELLO) onHello(m);
      else if (m[0] === KIND_ACK) onAck(m);
    });
    void requests.ended.then(() => {
      // The queue was removed under us (or we stopped): links find out by themselves.
    });

    let closed: Promise<void> | undefined;
    return {
      address: new URL(href),
      close() {
        closed ??= (async () => {
          closing = true;
          if (sweeper) clearInterval(sweeper);
          for (const p of [...pending.values()]) dropPending(p);
          for (const r of rejected.splice(0)) purge(id, r.reply, msgmax);
          if (links.size === 0) {
            // Nothing else uses the queue: removing it wakes the request thread (EIDRM) even
            // when a flood keeps the queue too full for stop()'s own wake-up message.
            removeQueue();
            await requests.ended;
          } else {
            await requests.stop();
            purge(id, MTYPE_REQUEST, msgmax);
            maybeRemove();
          }
        })();
        return closed;
      },
    };
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const key = keyOf(address, false);
    const href = address.href;
    const { msgmax } = msgqLimits();
    let msqid: number;
    try {
      msqid = native.msgget(key, false, 0);
    } catch (err) {
      const e = err as TransportError;
      throw new TransportError(e.code, `connect ${href}: ${e.code === 'ENOENT' ? 'no message queue has this key (is the listener running?)' : e.message}`, {
        address: href,
        syscall: 'msgget',
        ...(e.errno !== undefined ? { errno: e.errno } : {}),
        cause: err,
      });
    }
    const reply = randomInt(MTYPE_REPLY_MIN, MTYPE_OWNER);
    let answer!: (m: Buffer) => void;
    const answered = new Promise<Buffer>((r) => (answer = r));
    const replies = new Receiver(msqid, reply, msgmax, (m) => answer(Buffer.from(m)));
    let m: Buffer | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const hello = Buffer.alloc(14);
      hello[0] = KIND_HELLO;
      hello[1] = VERSION;
      hello.writeUInt32BE(process.pid, 2);
      hello.writeUInt32BE(reply, 6);
      hello.writeUInt32BE(WINDOW, 10);
      await sendOne(msqid, MTYPE_REQUEST, hello);
      const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), resolved.timeoutMs)));
      m = await Promise.race([answered, replies.ended.then(() => undefined), timeout]);
    } catch (err) {
      const e = TransportError.fromNode(err, href);
      // msgget() finds another uid's queue; only the send is refused: name the queue and why
      if (e.code === 'EACCES') throw new TransportError('EACCES', `connect ${href}: permission denied: the queue belongs to another user (mode 0600)`, { address: href, syscall: 'msgsnd', errno: 13, cause: err });
      throw e;
    } finally {
      clearTimeout(timer);
      await replies.stop();
      purge(msqid, reply, msgmax);
    }
    if (m === undefined) {
      throw new TransportError('ETIMEDOUT', `connect ${href}: no answer from a listener within ${resolved.timeoutMs} ms`, { address: href, syscall: 'msgrcv' });
    }
    if (m[0] === KIND_REJECT) {
      throw new TransportError('ECONNREFUSED', `connect ${href}: the listener refused: ${m.subarray(1).toString()}`, { address: href });
    }
    if (m.length < 18 || m[0] !== KIND_WELCOME || m[1] !== VERSION) {
      throw new TransportError('ERR_PROTOCOL', `connect ${href}: not a switchyard msgq listener (bad WELCOME)`, { address: href });
    }
    const listenerPid = m.readUInt32BE(2);
    const up = m.readUInt32BE(6);
    const down = m.readUInt32BE(10);
    const id = msqid;
    const link = openEndpoint({
      msqid: id,
      address: href,
      maxDatagram: msgmax,
      rx: down,
      tx: up,
      peerPid: listenerPid,
      peerWindow: m.readUInt32BE(14),
      options: resolved,
      onReleased: (peerGone) => {
        // The listener died without removing its queue: nobody else will.
        if (peerGone && !pidAlive(listenerPid)) {
          try {
            native.msgRemove(id);
          } catch {
            // Gone already.
          }
        }
      },
    });
    // The ACK is what makes the listener spend a thread on us: our end reads first.
    const ack = Buffer.alloc(10);
    ack[0] = KIND_ACK;
    ack[1] = VERSION;
    ack.writeUInt32BE(process.pid, 2);
    ack.writeUInt32BE(up, 6);
    try {
      await sendOne(id, MTYPE_REQUEST, ack);
    } catch (err) {
      await link.close();
      throw TransportError.fromNode(err, href);
    }
    return link;
  },
};

