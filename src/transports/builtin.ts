/**
 * builtin.ts: registers the transports that ship with switchyard. Imported once by
 * src/index.ts; importing it twice is harmless (ES modules run once).
 */
import { fifoTransport } from './stream/fifo.js';
import { msgqTransport } from './datagram/msgq.js';
import { natsTransport } from './nats/nats.js';
import { pipeTransport } from './stream/pipe.js';
import { registerTransport } from './core/registry.js';
import { shmTransport } from './shm/shm.js';
import { socketpairTransport } from './stream/socketpair.js';
import { tcpTransport } from './stream/tcp.js';
import { udpTransport } from './datagram/udp.js';
import { unixTransport } from './stream/unix.js';

for (const t of [pipeTransport, socketpairTransport, fifoTransport, unixTransport, tcpTransport, shmTransport, msgqTransport, udpTransport, natsTransport]) registerTransport(t);
