/**
 * node-ipc-peer.ts: the far end of the optional node-ipc baseline: `node node-ipc-peer.js PATH`.
 * Connects, says `{ t: 'ready' }`, answers JSON probes (acking sinks for credit), and exits
 * when the bench disconnects.
 */
import { JsonResponder, type JsonProbe, type JsonReply } from '../baselines/json-messages.js';
import { ackInterval } from '../baselines/credit.js';
import { NODE_IPC_HIGH_WATER } from '../baselines/node-ipc.js';
import { newNodeIpc } from '../baselines/node-ipc-api.js';

const path = process.argv[2];
if (path === undefined) throw new Error('usage: node-ipc-peer.js PATH');
const ipc = await newNodeIpc('switchyard-bench-peer');
const responder = new JsonResponder((size) => ackInterval(size, NODE_IPC_HIGH_WATER));
ipc.connectTo('bench', path, () => {
  const server = ipc.of.bench!;
  const reply = (r: JsonReply): void => server.emit('message', r);
  server.on('connect', () => server.emit('message', { t: 'ready' }));
  server.on('message', (m) => responder.handle(m as JsonProbe, reply));
  server.on('disconnect', () => process.exit(0));
});
