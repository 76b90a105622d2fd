/**
 * worker-peer.ts: the far end of the worker_threads baseline, run as a Worker. Answers probes
 * with the shared Responder over parentPort, ACKing sinks at credit.ts's interval for the
 * window the bench keeps (workerData.highWater), because postMessage has no backpressure.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ackInterval } from '../baselines/credit.js';
import { Responder } from '../responder.js';

if (!parentPort) throw new Error('worker-peer.js runs as a worker thread');
const port = parentPort;
const { highWater } = workerData as { highWater: number };
const responder = new Responder({ copyEcho: false, ackEvery: (size) => ackInterval(size, highWater) });
const reply = (bytes: Uint8Array): void => port.postMessage(bytes);
port.on('message', (m: Uint8Array) => responder.handle(m, reply));
port.postMessage(Buffer.from('ready'));
