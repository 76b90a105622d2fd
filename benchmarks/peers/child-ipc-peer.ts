/**
 * child-ipc-peer.ts: the far end of the child_process IPC baselines:
 * `node child-ipc-peer.js json|advanced`, started with an 'ipc' stdio slot.
 * 'advanced': byte probes through the shared Responder. 'json': the JSON probes of
 * baselines/json-messages.ts. Says `ready`; exits when the parent disconnects.
 */
import { JsonResponder, type JsonProbe, type JsonReply } from '../baselines/json-messages.js';
import { Responder } from '../responder.js';

const mode = process.argv[2];
if (!process.send || (mode !== 'json' && mode !== 'advanced')) throw new Error('usage: child-ipc-peer.js json|advanced (with an ipc channel)');
const send = process.send.bind(process);
process.on('disconnect', () => process.exit(0));

if (mode === 'advanced') {
  const responder = new Responder({ copyEcho: false });
  const reply = (bytes: Uint8Array): void => void send(bytes);
  process.on('message', (m: Uint8Array) => responder.handle(m, reply));
} else {
  const responder = new JsonResponder();
  const reply = (r: JsonReply): void => void send(r);
  process.on('message', (m: JsonProbe) => responder.handle(m, reply));
}
send('ready');
