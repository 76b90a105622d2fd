/**
 * child-ipc-peer.ts: the far end of the child_process IPC baselines:
 * `node child-ipc-peer.js json|advanced`, started with an 'ipc' stdio slot.
 * 'advanced': byte probes through the shared Responder. 'json': `{ t, n, d }` objects (see
 * baselines/child-ipc.ts), echoed unchanged. Says `ready`; exits when the parent disconnects.
 */
import type { JsonProbe } from '../baselines/child-ipc.js';
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
  const frames = new Map<number, number>();
  const bytes = new Map<number, number>();
  process.on('message', (m: JsonProbe) => {
    switch (m.t) {
      case 'e':
        send(m);
        break;
      case 's':
        frames.set(m.n, (frames.get(m.n) ?? 0) + 1);
        bytes.set(m.n, (bytes.get(m.n) ?? 0) + (m.d?.length ?? 0));
        break;
      case 'r':
        send({ t: 'r', k: m.k, frames: frames.get(m.n) ?? 0, bytes: bytes.get(m.n) ?? 0 });
        break;
      default:
        throw new Error(`child-ipc-peer: unknown message ${JSON.stringify(m).slice(0, 80)}`);
    }
  });
}
send('ready');
