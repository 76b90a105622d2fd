/**
 * local-rendezvous.ts: where two nats link ends on one host meet to open their local link
 * (PROTOCOL.md §9, "Same-host upgrade"): one unix listener per process, in a private 0700
 * temp directory, and the links that offered it and wait for their peer to come.
 *
 *   client -> listener, first frame:  "SYUP" | version u8 (=1) | link id (32 ASCII hex) | nonce 16 bytes
 *   listener -> client, first frame:  "SYOK"                      (accepted; anything else: refused)
 *
 * Invariants:
 * - The directory and socket exist while at least one offer is held (acquire() to release());
 *   with the last release both are removed, and at exit or SIGTERM/SIGINT through cleanup.ts
 *   if the process ends first. A later offer makes a new directory.
 * - A local connection is handed to a waiting link only if its first frame names that link
 *   and carries its nonce (compared in constant time); every other connection is closed, and
 *   so is one that says nothing within HELLO_MS. An offer is matched at most once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { removeNowOrAtExit } from '../core/cleanup.js';
import type { FrameBatch, Link, Listener } from '../core/transport.js';
import { MAX_FRAME_LIMIT } from '../core/transport.js';
import { unixTransport } from '../stream/unix.js';
import { NONCE_BYTES } from './upgrade-offer.js';

const MAGIC_HELLO = Buffer.from('SYUP', 'latin1');
const ACK = Buffer.from('SYOK', 'latin1');
const VERSION = 1;
const LINK_ID_BYTES = 32;
const HELLO_BYTES = MAGIC_HELLO.length + 1 + LINK_ID_BYTES + NONCE_BYTES;
/** How long an accepted local connection may take to say which link it is. */
const HELLO_MS = 2000;

function encodeLocalHello(linkId: string, nonce: Buffer): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  MAGIC_HELLO.copy(b, 0);
  b[4] = VERSION;
  b.write(linkId, 5, 'latin1');
  nonce.copy(b, 5 + LINK_ID_BYTES);
  return b;
}

export function isAck(frame: Uint8Array): boolean {
  return frame.length === ACK.length && ACK.equals(frame);
}

export function ackFrame(): Buffer {
  return Buffer.from(ACK);
}

interface Waiting {
  nonce: Buffer;
  adopt(link: Link): void;
}

interface Open {
  path: string;
  listener: Listener;
  removeDir: () => void;
}

let refs = 0;
let current: Promise<Open> | undefined;
const waiting = new Map<string, Waiting>();

function firstFrame(batch: FrameBatch): Uint8Array {
  return batch.bytes.subarray(batch.starts[0]!, batch.starts[0]! + batch.lengths[0]!);
}

/** A connection to our socket: matched to its waiting link by its first frame, or closed. */
function onLocal(link: Link): void {
  const timer = setTimeout(() => void link.close(), HELLO_MS);
  link.onFrames!((batch) => {
    clearTimeout(timer);
    const f = Buffer.from(firstFrame(batch));
    const id = f.length === HELLO_BYTES && f.subarray(0, 4).equals(MAGIC_HELLO) && f[4] === VERSION ? f.toString('latin1', 5, 5 + LINK_ID_BYTES) : '';
    const w = waiting.get(id);
    if (!w || batch.count !== 1 || !timingSafeEqual(w.nonce, f.subarray(5 + LINK_ID_BYTES))) {
      link.pause();
      void link.close();
      return;
    }
    waiting.delete(id);
    w.adopt(link);
  });
  void link.closed.then(() => clearTimeout(timer));
}

async function open(): Promise<Open> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-up-')); // mode 0700: only our uid may connect
  const removeDir = removeNowOrAtExit(() => rmSync(dir, { recursive: true, force: true }));
  try {
    const path = join(dir, 's');
    // Frames are checked by the links' owners, both of our uid; the hello is checked above.
    const listener = await unixTransport.listen(new URL(`unix://${path}`), onLocal, { maxFrame: MAX_FRAME_LIMIT });
    return { path, listener, removeDir };
  } catch (err) {
    removeDir();
    throw err;
  }
}

/**
 * Holds the local socket open for one offer: the path to put in the WELCOME, and release(),
 * which ends the offer (and removes the socket with the last one). `adopt` gets the
 * connection that proved itself with `linkId` and `nonce`, at most once.
 */
export async function acquireRendezvous(linkId: string, nonce: Buffer, adopt: (link: Link) => void): Promise<{ path: string; release: () => Promise<void> }> {
  refs++;
  const mine = (current ??= open());
  let o: Open;
  try {
    o = await mine;
  } catch (err) {
    if (--refs === 0 && current === mine) current = undefined;
    throw err;
  }
  waiting.set(linkId, { nonce, adopt });
  let released: Promise<void> | undefined;
  return {
    path: o.path,
    // Resolves once the socket and directory are gone, if this was their last user.
    release: () =>
      (released ??= (async () => {
        if (waiting.get(linkId)?.adopt === adopt) waiting.delete(linkId);
        if (--refs > 0 || current !== mine) return;
        current = undefined;
        await o.listener.close().finally(o.removeDir);
      })()),
  };
}

/** Connects to a peer's rendezvous and proves which link it is; the link waits for "SYOK". */
export async function dialRendezvous(path: string, linkId: string, nonce: Buffer, maxFrame: number, timeoutMs: number): Promise<Link> {
  const link = await unixTransport.connect(new URL(`unix://${path}`), { maxFrame, timeoutMs });
  link.send(encodeLocalHello(linkId, nonce));
  return link;
}
