/**
 * shm-settings.ts: the options of shm links (ring size, spin) from LinkOptions and from the
 * address, validated once, and the ring size of an existing segment read back from its size.
 */
import { fstatSync } from 'node:fs';
import { TransportError } from '../../errors.js';
import { native } from '../../native.js';
import { badAddress } from '../core/address.js';
import type { LinkOptions } from '../core/transport.js';

/** Options of shm links beyond LinkOptions. */
export interface ShmLinkOptions extends LinkOptions {
  /** Bytes of each ring (one per direction). Default 4 MiB; a multiple of 4096 from 64 KiB to 1 GiB. */
  ringSize?: number;
  /**
   * Spin mode: how long, in microseconds, the receiving JS thread keeps polling the ring
   * (one check per event-loop turn) after the last record before it goes back to sleeping
   * on the waiter thread. Default 0 (off). Lowest latency, at the price of a core at 100%
   * for as long as traffic keeps arriving within the window.
   */
  spinUs?: number;
}

export const DEFAULT_RING_SIZE = 4 * 1024 * 1024;
export const DEFAULT_SPIN_US = 0;
/**
 * Blocking mode: how long the waiter thread polls after a batch before it sleeps on the
 * doorbell semaphore. A peer that publishes again within this window needs no futex wake-up;
 * the price is up to this much of one core per batch (a whole core while batches keep coming
 * faster than this). In spin mode the JS thread polls instead and the waiter does not spin.
 */
export const WAITER_SPIN_NS = 50_000;
const MIN_RING = 64 * 1024;
const MAX_RING = 1024 * 1024 * 1024;
const MAX_SPIN_US = 10_000_000;

/** Ring size and spin, from options and then the address (the address wins). */
export interface ShmSettings {
  ringSize: number;
  spinNs: number;
}

function sizeFrom(text: string, href: string): number {
  const m = /^(\d+)(k|kib|m|mib)?$/i.exec(text);
  if (!m) throw badAddress(href, `size= takes bytes, e.g. size=4MiB or size=1048576 (got "${text}")`);
  const unit = (m[2] ?? '').toLowerCase();
  return Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1);
}

function spinFrom(text: string, href: string): number {
  const m = /^(\d+)(ns|us|ms)?$/.exec(text);
  if (!m) throw badAddress(href, `spin= takes a duration, e.g. spin=50us (got "${text}")`);
  const n = Number(m[1]);
  return m[2] === 'ns' ? n / 1000 : m[2] === 'ms' ? n * 1000 : n;
}

export function shmSettings(url: URL | undefined, options: ShmLinkOptions = {}): ShmSettings {
  const href = url?.href ?? 'shm:';
  let ringSize = options.ringSize ?? DEFAULT_RING_SIZE;
  let spinUs = options.spinUs ?? DEFAULT_SPIN_US;
  const size = url?.searchParams.get('size');
  if (size) ringSize = sizeFrom(size, href);
  const spin = url?.searchParams.get('spin');
  if (spin) spinUs = spinFrom(spin, href);
  if (!Number.isInteger(ringSize) || ringSize < MIN_RING || ringSize > MAX_RING || ringSize % 4096 !== 0) {
    throw new TransportError('ERR_INVALID_OPTION', `shm ring size must be a multiple of 4096 from ${MIN_RING} to ${MAX_RING} bytes, got ${ringSize} (${href})`, { address: href });
  }
  if (!Number.isFinite(spinUs) || spinUs < 0 || spinUs > MAX_SPIN_US) {
    throw new TransportError('ERR_INVALID_OPTION', `shm spin must be from 0 to ${MAX_SPIN_US} us, got ${spinUs} (${href})`, { address: href });
  }
  return { ringSize, spinNs: Math.round(spinUs * 1000) };
}

/** The ring capacity of segment `fd`, from its size. */
export function capacityOf(fd: number, href: string): number {
  const size = fstatSync(fd).size;
  const cap = (size - native.shmLayout.headerBytes) / 2;
  if (!Number.isInteger(cap) || cap < MIN_RING || cap > MAX_RING || cap % 4096 !== 0) {
    throw new TransportError('ERR_SHM_BAD_SEGMENT', `shm: the segment of ${size} bytes named by "${href}" is not an shm link segment`, { address: href });
  }
  return cap;
}

