/**
 * nats-address.ts: what a `nats://` address means, and the subjects a link uses
 * (docs/PROTOCOL.md §9). One place that turns user input into a server, a subject prefix, a
 * listener name and options, with one kind of error (TransportError ERR_BAD_ADDRESS) that
 * quotes the input.
 *
 *   listen:   nats://host:port/PREFIX[/MORE...][?name=NAME&...]   (no name: a random one)
 *   connect:  nats://host:port/PREFIX[/MORE...]/NAME[?...]        (what the listener reports)
 *
 * Subjects, with P the path segments joined by dots and L a random id per link:
 *   P.NAME.hello    a client's HELLO (a NATS request; the WELCOME is its reply)
 *   P.NAME.L.up     datagrams from the client to the listener
 *   P.NAME.L.down   datagrams from the listener to the client
 *   P._sys.*        discovery (nats-announcement.ts), liveness (nats-liveness.ts); `_sys` is refused as a NAME
 *
 * `?servers=h2:p2,h3:p3` names more servers of the same cluster, tried when host:port is down
 * (at connect or later); without it the client learns them from its server's INFO.
 *
 * Invariants: every token is [A-Za-z0-9_-]+, so no token can contain a dot or a wildcard and
 * no address can make us subscribe or publish outside P.NAME; the host defaults to 127.0.0.1
 * and the port to 4222 (NATS's own default); user:password in the URL is refused (credentials
 * in an address would be printed by every log that prints the address).
 */
import { randomBytes } from 'node:crypto';
import { badAddress } from '../core/address.js';
import { MAX_PERIOD_MS, MIN_PERIOD_MS, SYS_TOKEN } from './nats-announcement.js';

/** NATS's well-known client port. */
export const NATS_DEFAULT_PORT = 4222;
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
/** Link ids we make: 16 random bytes in hex. Peers' ids are checked against this. */
const LINK_ID = /^[0-9a-f]{32}$/;

/** Per-address options (each side uses its own and tells the other in the HELLO). */
export interface NatsOptions {
  /** Largest datagram we send or accept; the server's max_payload lowers it. */
  datagram: number | undefined;
  /** DATA datagrams the peer may have in flight to us (undefined: derived from the datagram size). */
  window: number | undefined;
  heartbeatMs: number;
  timeoutMs: number;
  /** How long a link waits for its connection to reach a server again after losing one. */
  failoverMs: number;
  /** Bytes of frames a link holds while its connection is down (beyond: BrokerQueueFullError). */
  holdBytes: number;
  /** A listener's discovery period (0: it does not announce). */
  announceMs: number;
  /** Offer / accept the same-host upgrade to a local socket (upgrading-link.ts); `?upgrade=0` turns it off. */
  upgrade: boolean;
}

export interface NatsAddress {
  /** `host:port` for the NATS client. */
  server: string;
  /** `server`, then the other servers of its cluster from `?servers=` (no duplicates). */
  servers: string[];
  host: string;
  port: number;
  /** The path segments before the listener's name. */
  prefix: string[];
  /** The listener's name (listen: from ?name= or undefined for a random one; connect: the last segment). */
  name: string | undefined;
  options: NatsOptions;
}

const KNOWN = ['datagram', 'window', 'heartbeat', 'timeout', 'failover', 'hold', 'announce', 'servers', 'name', 'upgrade'];
/** At most this many servers in `?servers=`. */
const MAX_SERVERS = 16;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;
/** How often a listener announces its system (discovery), by default. */
export const DEFAULT_ANNOUNCE_MS = 2000;
/** What a link holds while its connection is down, by default. */
export const DEFAULT_HOLD_BYTES = 1024 * 1024;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1';
}

/** Parses a nats:// address for `listen` or `connect`. */
export function parseNatsAddress(url: URL, forListen: boolean): NatsAddress {
  if (url.username !== '' || url.password !== '') {
    throw badAddress(url.href, 'nats: credentials in the address are not supported (they would be logged with it)');
  }
  const host = url.hostname === '' ? '127.0.0.1' : url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? NATS_DEFAULT_PORT : Number(url.port);
  if (port === 0) throw badAddress(url.href, 'nats: port 0 names no server; give the port nats-server listens on (default 4222)');
  const segments = url.pathname.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (!TOKEN.test(s)) throw badAddress(url.href, `nats: path segment "${s}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
  }
  for (const k of url.searchParams.keys()) {
    if (!KNOWN.includes(k)) throw badAddress(url.href, `nats: unknown option "${k}" (known: ${KNOWN.join(', ')})`);
  }
  let name: string | undefined;
  let prefix: string[];
  if (forListen) {
    if (segments.length === 0) throw badAddress(url.href, 'nats: needs a subject prefix, e.g. nats://127.0.0.1:4222/app');
    prefix = segments;
    const n = url.searchParams.get('name');
    if (n !== null && !TOKEN.test(n)) throw badAddress(url.href, `nats: name "${n}" must be 1-64 characters of A-Z a-z 0-9 _ -`);
    if (n === SYS_TOKEN) throw badAddress(url.href, `nats: the name "${SYS_TOKEN}" is reserved for discovery`);
    name = n ?? undefined;
  } else {
    if (segments.length < 2) throw badAddress(url.href, "nats: needs a prefix and the listener's name, e.g. nats://127.0.0.1:4222/app/main");
    if (url.searchParams.has('name')) throw badAddress(url.href, "nats: name= is for listen(); connect names the listener in the path");
    prefix = segments.slice(0, -1);
    name = segments[segments.length - 1];
  }
  const num = (key: string, fallback: number | undefined, min: number, max: number): number | undefined => {
    const v = url.searchParams.get(key);
    if (v === null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw badAddress(url.href, `nats: ${key} must be an integer from ${min} to ${max}`);
    return n;
  };
  // A hop through a server on this machine is as fast as udp on loopback; anything else is a
  // network, where a few lost heartbeats must not end a link.
  const loop = isLoopback(host);
  const heartbeatMs = num('heartbeat', loop ? 100 : 250, 10, 60_000)!;
  const timeoutMs = num('timeout', loop ? 600 : 3000, 3 * heartbeatMs, 3_600_000)!;
  const server = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const servers = [server];
  const more = url.searchParams.get('servers');
  if (more !== null) {
    for (const hp of more.split(',')) {
      const m = HOST_PORT.exec(hp);
      const p = m ? Number(m[2]) : 0;
      if (!m || p < 1 || p > 65535) throw badAddress(url.href, `nats: servers must be host:port entries separated by commas, got "${hp}"`);
      if (!servers.includes(hp)) servers.push(hp);
    }
    if (servers.length > MAX_SERVERS) throw badAddress(url.href, `nats: at most ${MAX_SERVERS} servers`);
  }
  return {
    server,
    servers,
    host,
    port,
    prefix,
    name,
    options: {
      datagram: num('datagram', undefined, 1024, 64 * 1024 * 1024),
      window: num('window', undefined, 1, 65536),
      heartbeatMs,
      timeoutMs,
      // A failover that takes longer than the peer's own silence timeout ends the link on the
      // far side anyway: by default, wait as long as that.
      failoverMs: num('failover', timeoutMs, 0, 3_600_000)!,
      holdBytes: num('hold', DEFAULT_HOLD_BYTES, 0, 1024 * 1024 * 1024)!,
      announceMs: announce(url),
      upgrade: num('upgrade', 1, 0, 1) === 1,
    },
  };
}

function announce(url: URL): number {
  const v = url.searchParams.get('announce');
  if (v === null) return DEFAULT_ANNOUNCE_MS;
  const n = Number(v);
  if (!Number.isInteger(n) || (n !== 0 && (n < MIN_PERIOD_MS || n > MAX_PERIOD_MS))) {
    throw badAddress(url.href, `nats: announce must be 0 (off) or an integer from ${MIN_PERIOD_MS} to ${MAX_PERIOD_MS} (ms)`);
  }
  return n;
}

/** A fresh random listener name (when listen() was given none, as port 0 is for tcp). */
export function randomName(): string {
  return `l${randomBytes(8).toString('hex')}`;
}

/** A fresh link id. */
export function randomLinkId(): string {
  return randomBytes(16).toString('hex');
}

/** Whether `id` is a link id as we make them (a peer's HELLO is checked with this). */
export function isLinkId(id: string): boolean {
  return LINK_ID.test(id);
}

/** The subjects of one listener, and of its links. */
export class Subjects {
  /** `P.NAME` */
  readonly base: string;
  constructor(prefix: readonly string[], name: string) {
    this.base = [...prefix, name].join('.');
  }
  get hello(): string {
    return `${this.base}.hello`;
  }
  up(linkId: string): string {
    return `${this.base}.${linkId}.up`;
  }
  down(linkId: string): string {
    return `${this.base}.${linkId}.down`;
  }
}

/** The address a listener reports: what a client passes to connect(). */
export function listenerAddress(a: NatsAddress, name: string, search: URLSearchParams): URL {
  const q = new URLSearchParams(search);
  q.delete('name');
  q.delete('announce'); // the listener's own: a client has nothing to do with it
  const qs = q.toString();
  return new URL(`nats://${a.server}/${[...a.prefix, name].join('/')}${qs ? `?${qs}` : ''}`);
}
