/**
 * link-peer.ts: the far end of a Link-level bench, run as a child process.
 *
 *   node link-peer.js <inherit|ADDRESS>
 *
 * Answers probes through the shared Responder (wire.ts), says `ready` once connected, and
 * exits on QUIT or when its link closes.
 */
import { connect, linkFromParent } from '../../src/index.js';
import { Responder } from '../responder.js';

const where = process.argv[2];
if (where === undefined) throw new Error('usage: link-peer.js <inherit|ADDRESS>');
const link = where === 'inherit' ? await linkFromParent() : await connect(where);
void link.closed.then(() => process.exit(0));
// QUIT: a datagram link cannot see the bench close; the bench says so explicitly.
const responder = new Responder({ copyEcho: true, onQuit: () => void link.close().then(() => process.exit(0)) });
const reply = (bytes: Uint8Array): void => void link.send(bytes);
link.onFrame((frame) => responder.handle(frame, reply));
link.send(Buffer.from('ready'));
