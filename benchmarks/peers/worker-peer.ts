/**
 * worker-peer.ts: the far end of the worker_threads baseline, run as a Worker. Answers probes
 * with the shared Responder over parentPort, ACKing sinks (workerData.ackEvery) because
 * postMessage has no backpressure of its own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Responder } from '../responder.js';

if (!parentPort) throw new Error('worker-peer.js runs as a worker thread');
const port = parentPort;
const responder = new Responder({ copyEcho: false, ackEvery: (workerData as { ackEvery: number }).ackEvery });
const reply = (bytes: Uint8Array): void => port.postMessage(bytes);
port.on('message', (m: Uint8Array) => responder.handle(m, reply));
port.postMessage(Buffer.from('ready'));
