/**
 * nats.ts: `nats://host:port/prefix`, links whose two directions are subjects on a NATS
 * server (docs/PROTOCOL.md §9), so that systems on many hosts reach each other through a
 * broker they already run. The subjects and the address grammar are nats-address.ts's;
 * fragmentation, credit, heartbeats and loss counting are DatagramLink's; living through a
 * change of server is NatsLink's.
 *
 * Every listener and link of this process that names one server shares one NATS connection
 * (nats-pool.ts): a listener holds a lease on it for itself and the links it accepted, and
 * a client link holds its own. A listener answers HELLO requests on `P.NAME.hello` and
 * subscribes `P.NAME.L.up` for each link it accepts.
 * A client subscribes `P.NAME.L.down` for a random link id L,
 * then sends its HELLO as a NATS request (so "nobody listens there" is the server's immediate
 * no-responders answer, not a timeout), repeating it until the WELCOME comes or timeoutMs ends.
 *
 * Two ends of two processes on one host (and uid) get an UpgradingLink instead, which moves
 * to a local unix socket (upgrade-offer.ts decides, upgrading-link.ts moves; `?upgrade=0`
 * keeps a plain NatsLink): the offer rides in the handshake's `Extension.upgrade` entry.
 *
 * NATS core is at-most-once: `capabilities.reliable` is false. A lost piece is counted in
 * `link.stats` (the frame is lost, never delivered partly); credit bounds what one link puts
 * on the server, so a fast sender cannot make the server drop a slow reader as a slow
 * consumer; the peer's silence timeout is how a link learns that a peer died, since the
 * server says nothing when a subscriber goes. What breaks the silence is the peer process's
 * ALIVE (nats-liveness.ts, one per process and period, not per link) when both sides offer
 * liveness in the handshake, else per-link heartbeats (PING).
 *
 * Sizes: a datagram is at most the server's max_payload (from its INFO), or the address's
 * `datagram=` if smaller, and by default at most 8 MiB; a link uses the smaller of its two
 * sides' (they may use different servers of one cluster). The window defaults to what keeps
 * 32 MiB in flight per direction, from 4 to 1024 datagrams (32 at the default 1 MiB).
 *
 * Invariants: a listener's lease is released once the listener and every link it accepted
 * are closed; a client's with its link; the shared connection closes with its last lease, and
 * what a listener or link subscribed is unsubscribed when it ends (or its connect fails).
 * When the connection loses its server, links wait for it to reach another (NatsLink); when
 * the connection ends for good, every link on it ends as peer-gone at once. Nothing is
 * subscribed or published outside `P.NAME` and, for discovery (nats-discovery.ts) and
 * liveness (nats-liveness.ts), `P._sys`.
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import { PeerGoneError, TransportError } from '../../errors.js';
import { handOver } from '../core/hand-over.js';
import { resolveLinkOptions, type ResolvedLinkOptions } from '../core/options.js';
import type { Announcement, CloseKind, DiscoveryEvent, DiscoveryWatch, Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';
import { listenerAddress, parseNatsAddress, randomLinkId, randomName, Subjects, type NatsAddress, type NatsOptions } from './nats-address.js';
import { natsClient, type NatsConnectionHandle } from './nats-connection.js';
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, Extension, type Hello } from './nats-handshake.js';
import { attachLiveness, livenessPublisher, offeredLiveness, type LivenessPublisher } from './nats-liveness.js';
import { acquireConnection } from './nats-pool.js';
import { Announcer, watchDiscovery } from './nats-discovery.js';
import { NatsLink } from './nats-link.js';
import { natsPort } from './nats-port.js';
import { decodeUpgradeWelcome, encodeUpgradeHello, sameHost } from './upgrade-offer.js';
import { UpgradingLink } from './upgrading-link.js';

const capabilities = { reliable: false, ordered: true, crossHost: true } as const;
/** Bytes of DATA one direction of a link may have in flight, by default. */
const WINDOW_BYTES = 32 * 1024 * 1024;
/**
 * The default datagram is the server's max_payload up to this: a server configured for 64 MiB
 * messages would otherwise put 4 x 64 MiB in flight per link even at the smallest window.
 */
const MAX_DEFAULT_DATAGRAM = 8 * 1024 * 1024;
/** How long one HELLO waits for its WELCOME before it is sent again. */
const HELLO_RETRY_MS = 500;
/**
 * Through a cluster, how long "no responders" to a HELLO is taken as "not yet": interest
 * travels between servers asynchronously (milliseconds when they are healthy).
 */
const CLUSTER_GRACE_MS = 500;
const NO_RESPONDERS_RETRY_MS = 25;
/** How long listen() asks whether a name is taken (the answer is usually immediate). */
const PROBE_MS = 500;

/** This side's handshake values, with the server's max_payload applied, and where our liveness is published. */
function ownHello(o: NatsOptions, maxPayload: number, liveness: LivenessPublisher): Hello {
  const datagram = Math.min(o.datagram ?? MAX_DEFAULT_DATAGRAM, maxPayload);
  const window = o.window ?? Math.min(1024, Math.max(4, Math.floor(WINDOW_BYTES / datagram)));
  return { window, datagram, heartbeatMs: o.heartbeatMs, timeoutMs: o.timeoutMs, extensions: new Map([[Extension.liveness, liveness.id]]) };
}

function view(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** `h` with one more extension entry, beside those it has (liveness, upgrade: both may be offered). */
function withExtension(h: Hello, tag: number, value: Uint8Array): Hello {
  return { ...h, extensions: new Map([...(h.extensions ?? []), [tag, value]]) };
}

function makeLink(remote: string, conn: NatsConnectionHandle, subject: string, release: (kind: CloseKind) => Promise<void>, resolved: ResolvedLinkOptions, options: NatsOptions, own: Hello, peer: Hello, prefix: readonly string[], liveness: LivenessPublisher): NatsLink {
  // A peer that offered no liveness (an older one) gets per-link heartbeats, as before.
  const peerLiveness = offeredLiveness(peer.extensions, Extension.liveness);
  const peerPeriodMs = Math.min(Math.max(peer.heartbeatMs, 10), 60_000);
  const link = new NatsLink({
    conn,
    holdBytes: options.holdBytes,
    failoverMs: options.failoverMs,
    scheme: 'nats',
    remote,
    capabilities,
    options: resolved,
    port: natsPort(conn, subject, release),
    maxDatagram: Math.min(own.datagram, peer.datagram),
    window: own.window,
    peerWindow: peer.window,
    heartbeatMs: own.heartbeatMs,
    // Never declare the peer gone faster than three of its own heartbeats (clamped: a HELLO
    // announcing 2^32 ms must not keep a silent link open for months).
    peerTimeoutMs: Math.max(own.timeoutMs, 3 * peerPeriodMs),
    liveness: peerLiveness !== undefined,
  });
  if (peerLiveness !== undefined) attachLiveness(link, conn, prefix, liveness, peerLiveness, peerPeriodMs, subject);
  return link;
}

function serverGone(a: NatsAddress, error: Error | undefined): PeerGoneError {
  return new PeerGoneError(`nats server ${a.server} went away${error ? `: ${error.message}` : ''}`, error ? { cause: error } : undefined);
}

/** Rejects with `error()` if `p` has not settled by `deadline` (ms since the epoch). */
async function beforeDeadline<T>(p: Promise<T>, deadline: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(error()), Math.max(0, deadline - Date.now()))))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether a listener already answers on `subject` (a name is taken). A probe, not a lock: two
 * listens of one name at the same instant can both find it free.
 */
async function nameTaken(conn: NatsConnectionHandle, subject: string, deadline: number): Promise<boolean> {
  try {
    await conn.nc.request(subject, new Uint8Array(0), { timeout: Math.max(1, Math.min(PROBE_MS, deadline - Date.now())) });
    return true;
  } catch {
    return false; // no responders (the usual, immediate answer), or nobody answered in time
  }
}

export const natsTransport: Transport = {
  scheme: 'nats',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    const a = parseNatsAddress(address, true);
    const deadline = Date.now() + resolved.timeoutMs;
    const lease = await acquireConnection(a.servers, address.href, resolved.timeoutMs);
    const conn = lease.conn;
    const name = a.name ?? randomName();
    const subjects = new Subjects(a.prefix, name);
    const liveness = livenessPublisher(conn, a.prefix, a.options.heartbeatMs);
    const own = ownHello(a.options, conn.maxPayload, liveness);
    const welcome = encodeWelcome(own);
    const reported = listenerAddress(a, name, address.searchParams);
    const links = new Map<string, NatsLink>();
    /** Each link's WELCOME (a same-host offer makes it the link's own), for a repeated HELLO. */
    const welcomes = new Map<string, Buffer>();
    const upSubs = new Map<string, Subscription>();
    let closing = false;
    const maybeClose = (flush = true): Promise<void> => (closing && links.size === 0 ? lease.release(flush) : Promise.resolve());

    if (a.name !== undefined && (await nameTaken(conn, subjects.hello, deadline))) {
      await lease.release();
      throw new TransportError('EADDRINUSE', `listen ${address.href}: a listener already answers on ${subjects.hello}`, { address: address.href, syscall: 'listen' });
    }

    const onHello = (err: Error | null, msg: Msg): void => {
      if (err || !msg.reply) return;
      if (msg.data.length === 0) {
        msg.respond(new Uint8Array(0)); // nameTaken()'s probe: "this name is in use"
        return;
      }
      const h = decodeHello(msg.data);
      if (h === null) return; // junk on a shared subject: ignored
      if (links.has(h.linkId)) {
        // Our WELCOME was lost, or the HELLO was repeated: same answer (none yet while an
        // upgrade offer is being made: the client asks again).
        const w = welcomes.get(h.linkId);
        if (w) msg.respond(w);
        return;
      }
      if (closing) return;
      const id = h.linkId;
      // Same host and uid (a hint, never trusted): offer the local socket (upgrading-link.ts).
      const upgrade = a.options.upgrade && sameHost(h.hello.extensions?.get(Extension.upgrade));
      const link = makeLink(
        `nats://${a.server}/${[...a.prefix, name].join('/')} (link ${id.slice(0, 8)})`,
        conn,
        subjects.down(id),
        async (kind) => {
          links.delete(id);
          welcomes.delete(id);
          if (!conn.isClosed) upSubs.get(id)?.unsubscribe();
          upSubs.delete(id);
          await maybeClose(kind === 'closed');
        },
        upgrade ? { ...resolved, maxFrame: resolved.maxFrame + 1 } : resolved, // + the prefix byte
        a.options,
        own,
        h.hello,
        a.prefix,
        liveness,
      );
      // One subscription per link, made before the WELCOME leaves on the same connection (so
      // the server has it before the client can send DATA): each datagram goes straight to
      // its link, with no subject parsed or looked up per message.
      const upSub = conn.nc.subscribe(subjects.up(id), { callback: (e, m) => void (e || link.receive(view(m.data))) });
      upSubs.set(id, upSub);
      links.set(id, link);
      if (upgrade) {
        UpgradingLink.offer(link, id, resolved.maxFrame, resolved.timeoutMs).then(
          ({ link: up, extension }) => {
            const w = encodeWelcome(withExtension(own, Extension.upgrade, extension));
            welcomes.set(id, w);
            msg.respond(w);
            handOver(onLink, up);
          },
          () => {
            // No local socket to offer (a temp dir we cannot make): a plain link, on NATS.
            welcomes.set(id, welcome);
            msg.respond(welcome);
            handOver(onLink, link);
          },
        );
        return;
      }
      welcomes.set(id, welcome);
      msg.respond(welcome);
      handOver(onLink, link);
    };

    let helloSub: Subscription | undefined;
    try {
      helloSub = conn.nc.subscribe(subjects.hello, { callback: onHello });
      // The server must know our subscriptions before anyone is told the address, or a quick
      // client's HELLO would meet "no responders". A server that hangs now must not hang us.
      await beforeDeadline(conn.nc.flush(), deadline, () => new TransportError('ETIMEDOUT', `listen ${address.href}: the NATS server at ${a.server} did not confirm our subscriptions within ${resolved.timeoutMs} ms`, { address: address.href, syscall: 'listen', errno: 110 }));
    } catch (err) {
      if (helloSub && !conn.isClosed) helloSub.unsubscribe();
      await lease.release(false);
      throw TransportError.fromNode(err, address.href); // a TransportError passes through as it is
    }
    void conn.ended.then((error) => {
      for (const link of [...links.values()]) link.peerGone(serverGone(a, error));
    });

    let closed: Promise<void> | undefined;
    let announcer: Announcer | undefined;
    return {
      address: reported,
      close() {
        closed ??= (async () => {
          closing = true;
          announcer?.stop(); // its `bye` leaves before the connection may close
          // New clients now get "no responders" at once; links already made keep their subjects.
          if (!conn.isClosed) helloSub!.unsubscribe();
          await maybeClose();
        })();
        return closed;
      },
      announce(describe: () => Announcement) {
        if (closing || announcer || a.options.announceMs === 0 || conn.isClosed) return;
        announcer = new Announcer(conn, a.prefix, reported.href, a.options.announceMs, describe);
      },
    };
  },

  async discover(address: URL, onEvent: (event: DiscoveryEvent) => void): Promise<DiscoveryWatch> {
    const a = parseNatsAddress(address, true);
    const timeoutMs = resolveLinkOptions().timeoutMs;
    const lease = await acquireConnection(a.servers, address.href, timeoutMs);
    return watchDiscovery(lease, a.prefix, onEvent);
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const a = parseNatsAddress(address, false);
    const deadline = Date.now() + resolved.timeoutMs;
    const lease = await acquireConnection(a.servers, address.href, resolved.timeoutMs);
    const conn = lease.conn;
    let downSub: Subscription | undefined;
    const liveness = livenessPublisher(conn, a.prefix, a.options.heartbeatMs);
    try {
      const subjects = new Subjects(a.prefix, a.name!);
      const id = randomLinkId();
      const own = ownHello(a.options, conn.maxPayload, liveness);
      let link: NatsLink | undefined;
      const early: Buffer[] = [];
      const sub = (downSub = conn.nc.subscribe(subjects.down(id), {
        callback: (err, msg) => {
          if (err) return;
          // DATA may overtake the WELCOME's reply on its way through our client's callbacks.
          if (link) link.receive(view(msg.data));
          else early.push(Buffer.from(msg.data));
        },
      }));
      const offered = a.options.upgrade ? withExtension(own, Extension.upgrade, encodeUpgradeHello()) : own;
      const peer = await sayHello(conn, subjects.hello, encodeHello(offered, id), address.href, deadline, resolved.timeoutMs);
      // A WELCOME with an offer makes the link an upgrading one (each frame then has its prefix
      // byte on NATS), even when the offer itself is unusable here (then it stays on NATS).
      const entry = a.options.upgrade ? peer.extensions?.get(Extension.upgrade) : undefined;
      link = makeLink(
        address.href.replace(/\?.*$/, ''),
        conn,
        subjects.up(id),
        async (kind) => {
          if (!conn.isClosed) sub.unsubscribe();
          // Only a clean close has a BYE worth waiting for; a gone peer or server has not.
          await lease.release(kind === 'closed');
        },
        entry ? { ...resolved, maxFrame: resolved.maxFrame + 1 } : resolved,
        a.options,
        own,
        peer,
        a.prefix,
        liveness,
      );
      const l = link;
      void conn.ended.then((error) => l.peerGone(serverGone(a, error)));
      for (const d of early) l.receive(d);
      return entry ? UpgradingLink.dial(l, id, decodeUpgradeWelcome(entry), resolved.maxFrame, resolved.timeoutMs) : l;
    } catch (err) {
      // The connection may be shared: give back what this attempt subscribed.
      if (downSub && !conn.isClosed) downSub.unsubscribe();
      // A listener may have made its end of this link from a HELLO we sent: its link to us
      // probes again when it sees our count of ended links change.
      liveness.linkEnded();
      await lease.release(false); // nothing of ours is worth flushing: the handshake failed
      throw TransportError.fromNode(err, address.href); // a TransportError passes through as it is
    }
  },
};

/** Sends the HELLO until a WELCOME answers; fails at once when nobody listens on `subject`. */
async function sayHello(conn: NatsConnectionHandle, subject: string, hello: Buffer, address: string, deadline: number, timeoutMs: number): Promise<Hello> {
  let refusedSince: number | undefined;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new TransportError('ETIMEDOUT', `connect ${address}: no WELCOME from a listener on ${subject} within ${timeoutMs} ms`, { address, syscall: 'connect', errno: 110 });
    }
    try {
      const reply = await conn.nc.request(subject, hello, { timeout: Math.min(left, HELLO_RETRY_MS) });
      const w = decodeWelcome(reply.data);
      if (w === null) throw new TransportError('ERR_PROTOCOL', `connect ${address}: the listener on ${subject} answered with something that is not a WELCOME`, { address, syscall: 'connect' });
      return w;
    } catch (err) {
      if (err instanceof TransportError) throw err;
      // Loaded already: conn exists, so natsClient() resolved once before.
      const { NoRespondersError, RequestError, TimeoutError: NatsTimeoutError } = await natsClient();
      if (err instanceof NoRespondersError || (err instanceof RequestError && err.isNoResponders())) {
        // In a cluster, a listener's subscription reaches the other servers a moment after its
        // own: a client on another server may hear "no responders" for a just-made listener.
        refusedSince ??= Date.now();
        const wait = Math.min(CLUSTER_GRACE_MS - (Date.now() - refusedSince), deadline - Date.now());
        if (conn.canFailOver && wait > 0) {
          await new Promise((r) => setTimeout(r, Math.min(NO_RESPONDERS_RETRY_MS, wait)));
          continue;
        }
        throw new TransportError('ECONNREFUSED', `connect ${address}: nobody listens on ${subject}`, { address, syscall: 'connect', errno: 111, cause: err });
      }
      if (err instanceof NatsTimeoutError) continue; // the HELLO or the WELCOME was lost: again
      if (conn.isClosed) throw new TransportError('ECONNRESET', `connect ${address}: the NATS server closed the connection during the handshake`, { address, syscall: 'connect', errno: 104, cause: err });
      throw TransportError.fromNode(err, address);
    }
  }
}
