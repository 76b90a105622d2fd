/**
 * net-stream.ts: what the socket transports (unix, tcp) share: dialling with a deadline,
 * starting a net.Server and turning its connections into StreamLinks. Each transport keeps
 * only what differs (addresses, stale files, TCP_NODELAY).
 */
import { createConnection, createServer, type NetConnectOpts, type Server, type Socket } from 'node:net';
import { TransportError } from '../../errors.js';
import { StreamLink } from './stream-link.js';
import type { ResolvedLinkOptions } from '../core/options.js';
import type { Link, LinkCapabilities } from '../core/transport.js';

/** Connects, or fails with a TransportError naming `address` (after `timeoutMs` at most). */
export function dial(options: NetConnectOpts, address: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TransportError('ETIMEDOUT', `connect ${address} timed out after ${timeoutMs} ms`, { address, syscall: 'connect' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(TransportError.fromNode(err, address));
    });
  });
}

/** Starts a server with `listen` and resolves once it is listening. */
export function serve(listen: (server: Server) => void, address: string, onSocket: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, onSocket);
    server.once('error', (err) => reject(TransportError.fromNode(err, address)));
    server.once('listening', () => {
      server.removeAllListeners('error');
      // After listening, accept errors (EMFILE...) are reported per connection attempt by
      // Node; keep the server alive rather than crash the process.
      server.on('error', () => {});
      resolve(server);
    });
    listen(server);
  });
}

/** Stops accepting; resolves once the listening fd is closed (links stay open). */
export function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close();
    // server.close()'s callback waits for every connection to end; the listening handle
    // itself is closed by the next turn of the loop.
    setImmediate(resolve);
  });
}

/** Wraps a connected socket in a StreamLink. */
export function socketLink(
  scheme: string,
  socket: Socket,
  remote: string,
  capabilities: Omit<LinkCapabilities, 'maxFrame'>,
  options: ResolvedLinkOptions,
): Link {
  return new StreamLink({ scheme, remote, capabilities, options, readable: socket, writable: socket });
}
