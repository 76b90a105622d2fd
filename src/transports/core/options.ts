/**
 * options.ts: LinkOptions checked once, at the public boundary, with messages that name the
 * option, and every default filled in. Every transport resolves its options here.
 */
import { TransportError } from '../../errors.js';
import type { LinkOptions } from './transport.js';
import { DEFAULT_HIGH_WATER_MARK, DEFAULT_LINGER_MS, DEFAULT_MAX_FRAME, DEFAULT_TIMEOUT_MS, MAX_FRAME_LIMIT } from './transport.js';

/** LinkOptions with every default filled in and checked. */
export interface ResolvedLinkOptions {
  maxFrame: number;
  highWaterMark: number;
  lingerMs: number;
  timeoutMs: number;
}

/** Validates options once, at the public boundary, with messages that name the option. */
export function resolveLinkOptions(options: LinkOptions = {}): ResolvedLinkOptions {
  const check = (name: string, value: number | undefined, fallback: number, max: number, min = 0): number => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new TransportError('ERR_INVALID_OPTION', `option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
    return value;
  };
  return {
    maxFrame: check('maxFrame', options.maxFrame, DEFAULT_MAX_FRAME, MAX_FRAME_LIMIT),
    highWaterMark: check('highWaterMark', options.highWaterMark, DEFAULT_HIGH_WATER_MARK, 2 ** 31, 1),
    lingerMs: check('lingerMs', options.lingerMs, DEFAULT_LINGER_MS, 2 ** 31 - 1),
    timeoutMs: check('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS, 2 ** 31 - 1, 1),
  };
}
