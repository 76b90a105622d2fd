/**
 * exposure.ts: whether a listening address is reachable from other hosts. A system refuses to
 * listen on such an address without a shared secret unless told `insecure: true`
 * (PROTOCOL.md B.4, README "Security").
 *
 * Invariant: only the network schemes (tcp, udp, nats) can be exposed; a host is local only if
 * it is a loopback name or address (localhost, 127.0.0.0/8, ::1) or absent (the transports
 * then bind 127.0.0.1). Anything else, 0.0.0.0 and :: included, counts as exposed.
 */

const NETWORK_SCHEMES = new Set(['tcp:', 'udp:', 'nats:']);

function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === '' || h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h) || /^::ffff:7f[0-9a-f]{2}:/.test(h);
}

/** True if a listener at `address` could be reached from another host. */
export function isExposed(address: string): boolean {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return false; // not a URL: the transport registry reports the bad address itself
  }
  return NETWORK_SCHEMES.has(url.protocol) && !isLoopbackHost(url.hostname);
}
