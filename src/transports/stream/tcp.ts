/**
 * tcp.ts: `tcp://host:port` (perlipc "Internet TCP Clients and Servers").
 *
 * Binds 127.0.0.1 unless the address names another host; port 0 picks a free port and the
 * listener's `address` reports the real one. TCP_NODELAY on every socket: the link already
 * batches a tick's frames into one write, so Nagle would only add latency.
 */
import type { AddressInfo, Socket } from 'node:net';
import { formatHostPort, hostPortOf } from '../core/address.js';
import { handOver } from '../core/hand-over.js';
import { dial, serve, socketLink, stopServer } from './net-stream.js';
import { resolveLinkOptions } from '../core/options.js';
import type { Link, LinkOptions, Listener, Transport } from '../core/transport.js';
import { DEFAULT_MAX_FRAME } from '../core/transport.js';

const capabilities = { reliable: true, ordered: true, crossHost: true } as const;

function remoteOf(socket: Socket): string {
  return formatHostPort('tcp', socket.remoteAddress ?? '?', socket.remotePort ?? 0);
}

export const tcpTransport: Transport = {
  scheme: 'tcp',
  capabilities: { ...capabilities, maxFrame: DEFAULT_MAX_FRAME },

  async listen(address: URL, onLink: (link: Link) => void, options?: LinkOptions): Promise<Listener> {
    const resolved = resolveLinkOptions(options);
    const { host, port } = hostPortOf(address, { portRequired: false });
    const server = await serve((s) => s.listen({ host, port, exclusive: true }), address.href, (socket) => {
      socket.setNoDelay(true);
      handOver(onLink, socketLink('tcp', socket, remoteOf(socket), capabilities, resolved));
    });
    const real = server.address() as AddressInfo;
    let closing: Promise<void> | undefined;
    return {
      address: new URL(formatHostPort('tcp', real.address, real.port)),
      close() {
        closing ??= stopServer(server);
        return closing;
      },
    };
  },

  async connect(address: URL, options?: LinkOptions): Promise<Link> {
    const resolved = resolveLinkOptions(options);
    const { host, port } = hostPortOf(address, { portRequired: true });
    const socket = await dial({ host, port, noDelay: true }, address.href, resolved.timeoutMs);
    socket.setNoDelay(true);
    return socketLink('tcp', socket, remoteOf(socket), capabilities, resolved);
  },
};
