/**
 * udp.ts: `udp://host:port` (perlipc "UDP: Message Passing"), best-effort: frames may be lost,
 * and every loss is counted in `link.stats`, never hidden (docs/PROTOCOL.md §7).
 *
 * A listener binds one socket (127.0.0.1 unless told otherwise) and keeps one link per remote
 * address: a HELLO opens it, heartbeats (PING) keep it, silence past `timeout` ends it as
 * peer-gone. A client uses its own connected socket, so an ICMP "port unreachable" from a
 * dead listener ends its link at once (ECONNREFUSED) as well.
 *
 * Options, in the address's query (each side uses its own, and tells the other in the HELLO):
 *   datagram=N   largest datagram, bytes. Default 61440 to a loopback host: one IP packet
 *                on `lo` (MTU 65536) with room to spare below the 65507-byte UDP limit, so no IP
 *                fragmentation ever happens. Default 1200 to any other host: below the 1280-byte
 *                IPv6 minimum MTU and a 1500-byte Ethernet MTU less IP/UDP headers and tunnels.
 *                A link uses the smaller of the two sides' values.
 *   heartbeat=MS PING interval. Default 100 ms on loopback, 250 ms otherwise.
 *   timeout=MS   silence after which the peer is gone. Default 600 ms on loopback (a peer on
 *                this machine that says nothing for 6 heartbeats is dead or hung), 3000 ms otherwise.
 *   rcvbuf=N     SO_RCVBUF to ask for (default 4 MiB; the kernel caps it at net.core.rmem_max).
 *   window=N     DATA datagrams the peer may have in flight to us. Default: what fits in half
 *                the receive buffer we actually got (at least 2), so a reader that keeps up
 *                loses nothing to its own buffer; a reader that stalls loses at most that.
 *
 * Invariants: every link of a listener shares its socket, which closes once the listener and
 * all its links are closed. Datagrams from an address with no link are ignored unless they
 * are a HELLO. A repeated HELLO (the WELCOME was lost) gets the WELCOME again; a HELLO with a
 * new nonce from a known address (the peer restarted on the same port) ends the old link.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import { TransportError } from '../../errors.js';
import { badAddress, formatHostPort, hostPortOf } from '../core/address.js';
import { DatagramLink, MIN_DATAGRAM, type DatagramPort } from './datagram-link.js';
import { KIND_HELLO, KIND_WELCOME } from './handshake-kinds.js';
import { handOver } from '../core/hand-over.js';
import { resolveLinkOptions, type ResolvedLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: false, ordered: false, crossHost: true } as const;
const VERSION = 1;
const HELLO_BYTES = 22;
/** The largest UDP payload over IPv4. */
const MAX_UDP_PAYLOAD = 65507;
/** Bytes handed to libuv and not yet sent before trySend() reports "full". */
const MAX_IN_FLIGHT = 1024 * 1024;
const HELLO_RETRY_MS = 200;

interface UdpOptions {
  datagram: number;
  heartbeatMs: number;
  timeoutMs: number;
  rcvbuf: number;
  window: number | undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

function udpOptions(url: URL, host: string): UdpOptions {
  const loop = isLoopback(host);
  const num = (name: string, fallback: number | undefined, min: number, max: number): number | undefined => {
    const v = url.searchParams.get(name);
    if (v === null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw badAddress(url.href, `udp: ${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  for (const k of url.searchParams.keys()) {
    if (!['datagram', 'heartbeat', 'timeout', 'rcvbuf', 'window'].includes(k)) throw badAddress(url.href, `udp: unknown option "${k}" (known: datagram, heartbeat, timeout, rcvbuf, window)`);
  }
  const heartbeatMs = num('heartbeat', loop ? 100 : 250, 10, 60_000)!;
  const timeoutMs = num('timeout', loop ? 600 : 3000, 3 * heartbeatMs, 3_600_000)!;
  return {
    datagram: num('datagram', loop ? 61440 : 1200, MIN_DATAGRAM + 64, MAX_UDP_PAYLOAD)!,
    heartbeatMs,
    timeoutMs,
    rcvbuf: num('rcvbuf', 4 * 1024 * 1024, 1024, 2 ** 30)!,
    window: num('window', undefined, 1, 65536),
  };
}

function hostAndPort(url: URL, forListen: boolean): { host: string; port: number } {
  if (url.pathname !== '' && url.pathname !== '/') throw badAddress(url.href, 'udp: takes host:port and no path, e.g. udp://127.0.0.1:7000');
  const hp = hostPortOf(url, { portRequired: !forListen });
  if (isIP(hp.host) === 0 && hp.host !== 'localhost') throw badAddress(url.href, 'udp: the host must be an IP address or localhost');
  return hp;
}

/** Opens and binds a socket; resolves once it is bound. */
function openSocket(host: string, port: number, rcvbuf: number, address: string): Promise<Socket> {
  const type = isIP(host) === 6 || host === '::1' ? 'udp6' : 'udp4';
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type });
    socket.once('error', (err) => {
      socket.close();
      reject(TransportError.fromNode(err, address));
    });
    socket.bind({ address: host === 'localhost' ? '127.0.0.1' : host, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      try {
        socket.setRecvBufferSize(rcvbuf);
      } catch {
        // Capped or refused by the kernel: we use what we got (read back below).
      }
      resolve(socket);
    });
  });
}

/** DATA datagrams that fit in half of what the socket really holds (Linux reports twice the bytes it accounts). */
function windowFor(socket: Socket, datagram: number, override: number | undefined): number {
  if (override !== undefined) return override;
  return Math.max(2, Math.floor(socket.getRecvBufferSize() / 2 / (datagram + 1024)));
}

interface Hello {
  kind: number;
  nonce: number;
  window: number;
  datagram: number;
  heartbeatMs: number;
  timeoutMs: number;
}

function encodeHello(kind: number, h: Omit<Hello, 'kind'>): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  b[0] = kind;
  b[1] = VERSION;
  b.writeUInt32BE(h.nonce, 2);
  b.writeUInt32BE(h.window, 6);
  b.writeUInt32BE(h.datagram, 10);
  b.writeUInt32BE(h.heartbeatMs, 14);
  b.writeUInt32BE(h.timeoutMs, 18);
  return b;
}

function decodeHello(b: Buffer): Hello | null {
  if (b.length < HELLO_BYTES || b[1] !== VERSION) return null;
  const h = { kind: b[0]!, nonce: b.readUInt32BE(2), window: b.readUInt32BE(6), datagram: b.readUInt32BE(10), heartbeatMs: b.readUInt32BE(14), timeoutMs: b.readUInt32BE(18) };
  if (h.window < 1 || h.datagram < MIN_DATAGRAM + 64 || h.datagram > MAX_UDP_PAYLOAD || h.heartbeatMs < 1) return null;
  return h;
}

/** The sending side of a link over `socket` (to `to`, or connected when `to` is undefined). */
function udpPort(socket: Socket, to: { address: string; port: number } | undefined, release: () => Promise<void>, onPeerGone: (e: Error) => void): DatagramPort {
  let inFlight = 0;
  let waiting: (() => void) | null = null;
  const sent = (len: number) => (err: Error | null) => {
    inFlight -= len;
    if (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ICMP port unreachable on a connected socket: nobody listens there any more.
      if (code === 'ECONNREFUSED') onPeerGone(err);
      // Other send errors (ENOBUFS...) lose this datagram: the receiver counts the frame lost.
    }
    if (waiting && inFlight < MAX_IN_FLIGHT / 2) {
      const w = waiting;
      waiting = null;
      w();
    }
  };
  return {
    trySend(datagrams, start) {
      let i = start;
      for (; i < datagrams.length && inFlight < MAX_IN_FLIGHT; i++) {
        const d = datagrams[i]!;
        inFlight += d.length;
        if (to) socket.send(d, to.port, to.address, sent(d.length));
        else socket.send(d, sent(d.length));
      }
      return i - start;
    },
    sendLater(_datagrams, _start, done) {
      waiting = () => done(null, 0);
    },
    release,
  };
}

function makeLink(
  remote: string,
  port: DatagramPort,
  resolved: ResolvedLinkOptions,
  own: UdpOptions,
  window: number,
  peer: Hello,
): DatagramLink {
  return new DatagramLink({
    scheme: 'udp',
    remote,
    capabilities,
    options: resolved,
    port,
    maxDatagram: Math.min(own.datagram, peer.datagram),
    window,
    peerWindow: peer.window,
    heartbeatMs: own.heartbeatMs,
    // Never declare the peer gone faster than three of its own heartbeats.
    // (the peer's period is clamped to our own option's range: a hello announcing 2^32 ms
    // would otherwise keep a silent link open for months)
    peerTimeoutMs: Math.max(own.timeoutMs, 3 * Math.min(Math.max(peer.heartbeatMs, 10), 60_000)),
  });
}

export const udpTransport: Transport = {
  scheme: 'udp',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    const { host, port } = hostAndPort(address, true);
    const own = udpOptions(address, host);
    const socket = await openSocket(host, port, own.rcvbuf, address.href);
    const window = windowFor(socket, own.datagram, own.window);
    const bound = socket.address();
    const links = new Map<string, { link: DatagramLink; nonce: number; welcome: Buffer }>();
    let closing = false;
    let socketClosed = false;
    const maybeCloseSocket = (): Promise<void> => {
      if (!closing || links.size > 0 || socketClosed) return Promise.resolve();
      socketClosed = true;
      return new Promise((r) => socket.close(() => r()));
    };
    // Errors on an unconnected socket are per datagram (e.g. ENOBUFS); the links' own
    // heartbeats decide who is gone.
    socket.on('error', () => {});
    socket.on('message', (msg, rinfo) => {
      const key = formatHostPort('udp', rinfo.address, rinfo.port);
      const known = links.get(key);
      if (msg[0] === KIND_HELLO) {
        const hello = decodeHello(msg);
        if (hello === null) return;
        if (known && known.nonce === hello.nonce) {
          socket.send(known.welcome, rinfo.port, rinfo.address); // our WELCOME was lost
          return;
        }
        known?.link.peerGone(); // the peer restarted on the same address
        if (closing) return;
        const to = { address: rinfo.address, port: rinfo.port };
        const entry = {
          nonce: hello.nonce,
          welcome: encodeHello(KIND_WELCOME, { nonce: hello.nonce, window, datagram: own.datagram, heartbeatMs: own.heartbeatMs, timeoutMs: own.timeoutMs }),
          link: undefined as unknown as DatagramLink,
        };
        const p = udpPort(socket, to, async () => {
          if (links.get(key) === entry) links.delete(key);
          await maybeCloseSocket();
        }, (e) => entry.link.peerGone(e));
        entry.link = makeLink(key, p, resolved, own, window, hello);
        links.set(key, entry);
        socket.send(entry.welcome, rinfo.port, rinfo.address);
        handOver(onLink, entry.link);
        return;
      }
      known?.link.receive(msg);
    });
    let closed: Promise<void> | undefined;
    return {
      address: new URL(formatHostPort('udp', bound.address, bound.port) + (address.search ?? '')),
      close() {
        closing = true;
        closed ??= maybeCloseSocket();
        return closed;
      },
    };
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const { host, port } = hostAndPort(address, false);
    const own = udpOptions(address, host);
    const socket = await openSocket(isIP(host) === 6 ? '::' : '0.0.0.0', 0, own.rcvbuf, address.href);
    const closeSocket = (): Promise<void> => new Promise((r) => socket.close(() => r()));
    let link: DatagramLink | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', (err) => reject(TransportError.fromNode(err, address.href)));
        socket.connect(port, host === 'localhost' ? '127.0.0.1' : host, () => resolve());
      });
      const window = windowFor(socket, own.datagram, own.window);
      const nonce = randomInt(1, 2 ** 32 - 1);
      const hello = encodeHello(KIND_HELLO, { nonce, window, datagram: own.datagram, heartbeatMs: own.heartbeatMs, timeoutMs: own.timeoutMs });
      const early: Buffer[] = [];
      const welcome = await new Promise<Hello>((resolve, reject) => {
        const fail = (e: Error): void => {
          clearInterval(retry);
          clearTimeout(timer);
          reject(e);
        };
        const timer = setTimeout(
          () => fail(new TransportError('ETIMEDOUT', `connect ${address.href}: no answer from a listener within ${resolved.timeoutMs} ms`, { address: address.href, syscall: 'connect' })),
          resolved.timeoutMs,
        );
        // The HELLO or the WELCOME may be lost: say HELLO again until answered.
        const say = (): void => socket.send(hello);
        const retry = setInterval(say, HELLO_RETRY_MS);
        socket.removeAllListeners('error');
        socket.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ECONNREFUSED') fail(new TransportError('ECONNREFUSED', `connect ${address.href}: nobody listens there (ICMP port unreachable)`, { address: address.href, syscall: 'connect', errno: 111 }));
        });
        socket.on('message', (msg) => {
          if (link) return link.receive(msg);
          const w = msg[0] === KIND_WELCOME ? decodeHello(msg) : null;
          if (w !== null && w.nonce === nonce) {
            clearInterval(retry);
            clearTimeout(timer);
            resolve(w);
          } else if (w === null && msg[0] !== KIND_WELCOME) early.push(Buffer.from(msg)); // DATA that overtook the WELCOME
        });
        say();
      });
      const remote = address.href.replace(/\?.*$/, '');
      const p = udpPort(socket, undefined, closeSocket, (e) => link?.peerGone(e));
      link = makeLink(remote, p, resolved, own, window, welcome);
      socket.removeAllListeners('error');
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ECONNREFUSED') link!.peerGone(err);
      });
      for (const m of early) link.receive(m);
      return link;
    } catch (err) {
      await closeSocket();
      throw err instanceof TransportError ? err : TransportError.fromNode(err, address.href);
    }
  },
};
