/**
 * nats-announcement.ts: the discovery subjects of a prefix and the one message on them
 * (docs/PROTOCOL.md §9, Discovery): what a listener says about its system, and how a watcher
 * reads it without trusting it.
 *
 *   P._sys.announce   announcements: {"v":1,"kind":"alive"|"bye","id","name","address","actors","periodMs"}
 *   P._sys.query      an empty message: "announce yourselves now" (a watcher that just started)
 *
 * `_sys` is refused as a listener name, so these subjects never meet a listener's.
 * Invariants: decodeAnnouncement() returns null for anything malformed (not JSON, a wrong
 * version or kind, a field of the wrong type or beyond its bound); encodeAnnouncement()
 * output always decodes, and fits `maxBytes` (actors are left out, and `truncated` set,
 * rather than exceeding it).
 */

/** The reserved token under a prefix. */
export const SYS_TOKEN = '_sys';
export const ANNOUNCEMENT_VERSION = 1;
/** Bounds a watcher holds announcements to (a peer's word is never trusted beyond them). */
export const MAX_NAME = 200;
export const MAX_ADDRESS = 2048;
export const MAX_ACTORS = 10_000;
export const MIN_PERIOD_MS = 100;
export const MAX_PERIOD_MS = 600_000;

export function announceSubject(prefix: readonly string[]): string {
  return [...prefix, SYS_TOKEN, 'announce'].join('.');
}

export function querySubject(prefix: readonly string[]): string {
  return [...prefix, SYS_TOKEN, 'query'].join('.');
}

export interface AnnouncementMessage {
  kind: 'alive' | 'bye';
  /** The announcing listener's random id (32 hex digits): a restarted system is a new one. */
  id: string;
  name: string;
  address: string;
  actors: string[];
  /** How often it announces: a watcher declares it gone after 3 periods of silence. */
  periodMs: number;
  /** Set when the actor list was left out to keep the message within max_payload. */
  truncated?: boolean;
}

export function encodeAnnouncement(m: AnnouncementMessage, maxBytes: number): Uint8Array {
  const body = { v: ANNOUNCEMENT_VERSION, ...m };
  let b = Buffer.from(JSON.stringify(body));
  if (b.length > maxBytes) b = Buffer.from(JSON.stringify({ ...body, actors: [], truncated: true }));
  return b;
}

const ID = /^[0-9a-f]{32}$/;

function isName(x: unknown): x is string {
  return typeof x === 'string' && x.length >= 1 && x.length <= MAX_NAME && !/[\s/]/.test(x);
}

export function decodeAnnouncement(data: Uint8Array): AnnouncementMessage | null {
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof o !== 'object' || o === null) return null;
  const m = o as Record<string, unknown>;
  if (m.v !== ANNOUNCEMENT_VERSION || (m.kind !== 'alive' && m.kind !== 'bye')) return null;
  if (typeof m.id !== 'string' || !ID.test(m.id) || !isName(m.name)) return null;
  if (typeof m.address !== 'string' || m.address.length > MAX_ADDRESS || !m.address.startsWith('nats://')) return null;
  if (!Array.isArray(m.actors) || m.actors.length > MAX_ACTORS || !m.actors.every(isName)) return null;
  if (!Number.isInteger(m.periodMs) || (m.periodMs as number) < MIN_PERIOD_MS || (m.periodMs as number) > MAX_PERIOD_MS) return null;
  return {
    kind: m.kind,
    id: m.id,
    name: m.name,
    address: m.address,
    actors: [...(m.actors as string[])],
    periodMs: m.periodMs as number,
    ...(m.truncated === true ? { truncated: true } : {}),
  };
}
