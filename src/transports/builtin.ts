/**
 * builtin.ts: registers the transports that ship with switchyard. Imported once by
 * src/index.ts; importing it twice is harmless (ES modules run once).
 */
import { fifoTransport } from './fifo.js';
import { msgqTransport } from './msgq.js';
import { pipeTransport } from './pipe.js';
import { registerTransport } from './registry.js';
import { shmTransport } from './shm.js';
import { socketpairTransport } from './socketpair.js';
import { tcpTransport } from './tcp.js';
import { udpTransport } from './udp.js';
import { unixTransport } from './unix.js';

for (const t of [pipeTransport, socketpairTransport, fifoTransport, unixTransport, tcpTransport, shmTransport, msgqTransport, udpTransport]) registerTransport(t);
