/**
 * zeromq-peer.ts: the far end of the optional zeromq baseline: `node zeromq-peer.js ADDRESS`.
 * Connects a PAIR socket, says `ready`, answers probes with the shared Responder, and exits
 * on an empty message.
 */
import { loadZmq, SendQueue } from '../baselines/zmq-api.js';
import { Responder } from '../responder.js';

const address = process.argv[2];
if (address === undefined) throw new Error('usage: zeromq-peer.js ADDRESS');
const zmq = await loadZmq();
const socket = new zmq.Pair();
socket.connect(address);
const out = new SendQueue(socket);
const responder = new Responder({ copyEcho: false });
const reply = (bytes: Uint8Array): void => void out.push(bytes);
out.push(Buffer.from('ready'));
for (;;) {
  const [m] = await socket.receive();
  if (!m || m.length === 0) break;
  responder.handle(m, reply);
}
await out.drain();
socket.close();
process.exit(0);
