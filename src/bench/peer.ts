/**
 * peer.ts: the far end of `switchyard bench`, run as a child process.
 *
 *   node peer.js <inherit|ADDRESS>
 *
 * Echoes frames whose first byte is ECHO (round trips); counts the others (throughput) and,
 * on an empty frame, replies with the count as a u32-BE-prefixed JSON report so the sender
 * knows every frame arrived. Exits when its link closes.
 */
import { connect, linkFromParent } from '../index.js';
import { ECHO } from './wire.js';

const where = process.argv[2];
if (where !== undefined) {
  const link = where === 'inherit' ? await linkFromParent() : await connect(where);
  void link.closed.then(() => process.exit(0));
  let frames = 0;
  let bytes = 0;
  link.onFrame((frame) => {
    if (frame.byteLength === 0) {
      link.send(Buffer.from(JSON.stringify({ frames, bytes })));
      frames = bytes = 0;
    } else if (frame[0] === ECHO) {
      link.send(frame.slice());
    } else {
      frames++;
      bytes += frame.byteLength;
    }
  });
  link.send(Buffer.from('ready'));
}
