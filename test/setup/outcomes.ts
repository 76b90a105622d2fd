/**
 * outcomes.ts: the error a call ends in, for tests that then assert on it. If the call
 * succeeds after all, the test fails (closing what it opened first, so a wrong outcome never
 * leaks a link or listener into the next test).
 */
import { expect } from 'chai';
import { TransportError } from '../../src/index.js';

/** The error `p` rejects with. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  let value: unknown;
  try {
    value = await p;
  } catch (err) {
    return err as Error;
  }
  if (value !== null && typeof value === 'object' && typeof (value as { close?: unknown }).close === 'function') {
    await (value as { close(): Promise<void> }).close();
  }
  throw new Error('expected a rejection, got a value');
}

/** The TransportError `p` rejects with (anything else fails the test). */
export async function transportRejection(p: Promise<unknown>): Promise<TransportError> {
  const err = await rejection(p);
  expect(err, String(err)).to.be.instanceOf(TransportError);
  return err as TransportError;
}

/** What `fn` throws. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to throw, it returned');
}
