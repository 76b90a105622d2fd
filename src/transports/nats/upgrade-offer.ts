/**
 * upgrade-offer.ts: what the two sides of a nats link say to each other, in the handshake's
 * `Extension.upgrade` entry, to find out whether they run on the same host as the same user
 * and so could move their traffic to a local unix socket (upgrading-link.ts; PROTOCOL.md §9).
 *
 *   in the HELLO:    hostId 16 bytes | pid u32                                    (I can upgrade)
 *   in the WELCOME:  hostId 16 bytes | pid u32 | nonce 16 bytes | path (UTF-8)   (come to path)
 *
 * Invariants: the host id is a hash (of /etc/machine-id, the kernel's boot id and the uid),
 * never trusted: it only decides whether to try a connect, which the 0700 directory and the
 * nonce then guard. Two ends in one process do not upgrade (a test of NATS itself runs both
 * ends in one process; upgradeTuning.sameProcess is its seam). decode*() return null for
 * anything malformed, which means "no upgrade".
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

const HOST_ID_BYTES = 16;
export const NONCE_BYTES = 16;
const HELLO_BYTES = HOST_ID_BYTES + 4;
/** sun_path's limit on Linux (without the NUL). */
const MAX_PATH_BYTES = 107;

/** Test seams: never set outside tests. */
export const upgradeTuning = {
  /** Let two ends in one process upgrade (link-level tests run both ends in one process). */
  sameProcess: false,
  /** A client that proves itself with a wrong nonce (the listener must refuse it). */
  wrongNonce: false,
};

let cachedHostId: Buffer | undefined;

/** This host and user, hashed: equal for two processes of one uid on one machine (and boot). */
function hostId(): Buffer {
  if (cachedHostId) return cachedHostId;
  let machine = '';
  for (const file of ['/etc/machine-id', '/proc/sys/kernel/random/boot_id']) {
    try {
      machine += `${readFileSync(file, 'utf8').trim()}\0`;
    } catch {
      // Absent in some containers: the other file, or the host name, will do for a hint.
    }
  }
  if (machine === '') machine = hostname();
  const uid = process.getuid?.() ?? -1;
  cachedHostId = createHash('sha256').update(`switchyard-host\0${machine}\0${uid}`).digest().subarray(0, HOST_ID_BYTES);
  return cachedHostId;
}

/** The client's part: "I am on this host, in this process, and can upgrade". */
export function encodeUpgradeHello(): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  hostId().copy(b, 0);
  b.writeUInt32BE(process.pid, HOST_ID_BYTES);
  return b;
}

/** Whether a peer that sent `part` (its HELLO or WELCOME entry) is worth a local connect. */
export function sameHost(part: Uint8Array | undefined): boolean {
  if (part === undefined || part.length < HELLO_BYTES) return false;
  const v = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
  if (!v.subarray(0, HOST_ID_BYTES).equals(hostId())) return false;
  return upgradeTuning.sameProcess || v.readUInt32BE(HOST_ID_BYTES) !== process.pid;
}

export interface UpgradeOffer {
  nonce: Buffer;
  path: string;
}

export function randomNonce(): Buffer {
  return randomBytes(NONCE_BYTES);
}

/** The listener's part: where to connect, and the nonce that proves the connect is this link's. */
export function encodeUpgradeWelcome(offer: UpgradeOffer): Buffer {
  const path = Buffer.from(offer.path, 'utf8');
  if (path.length > MAX_PATH_BYTES) throw new RangeError(`a local socket path is at most ${MAX_PATH_BYTES} bytes`);
  const b = Buffer.alloc(HELLO_BYTES + NONCE_BYTES + path.length);
  encodeUpgradeHello().copy(b, 0);
  offer.nonce.copy(b, HELLO_BYTES);
  path.copy(b, HELLO_BYTES + NONCE_BYTES);
  return b;
}

/** The offer in a WELCOME's entry, or null if it is malformed or from another host. */
export function decodeUpgradeWelcome(part: Uint8Array | undefined): UpgradeOffer | null {
  if (part === undefined || part.length <= HELLO_BYTES + NONCE_BYTES || !sameHost(part)) return null;
  const v = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
  const path = v.subarray(HELLO_BYTES + NONCE_BYTES).toString('utf8');
  if (!path.startsWith('/') || Buffer.byteLength(path) > MAX_PATH_BYTES || path.includes('\0')) return null;
  return { nonce: Buffer.from(v.subarray(HELLO_BYTES, HELLO_BYTES + NONCE_BYTES)), path };
}
